#pragma once
// Journals through the store: sealing events for store::append, reading a run
// back, logging what check_integrity found, and checking that a file is
// refused untouched. Every failure fails the test.

#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "test/support/files.hpp"

namespace troupe::test {

/// `ev` encoded with its header, as store::append takes it.
inline persistence::sealed_event seal(const event& ev) {
  auto bytes = encode(ev);
  auto header = peek_header(bytes);
  BOOST_REQUIRE_MESSAGE(header, render(header));
  return {std::move(*header), std::move(bytes)};
}

/// The rows of `run` in the journal at `path`, opened read-only.
inline std::vector<persistence::stored_event> read_run(const std::string& path,
                                                       const std::string& run) {
  auto db = persistence::store::open(path, persistence::open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto evs = db->events(run);
  BOOST_REQUIRE_MESSAGE(evs, render(evs));
  return std::move(*evs);
}

/// Logs every problem of `rep` (a message, not a failure).
inline void log_problems(const persistence::integrity_report& rep) {
  for (auto& p : rep.problems)
    BOOST_TEST_MESSAGE("problem: run '" << p.run_id << "' seq " << p.seq << ": "
                                        << p.what);
}

/// Opens `path` in `mode` and expects the refusal `code`, with a message that
/// names the path, and the file byte for byte as it was. Returns the message.
inline std::string check_refused(const std::string& path,
                                 persistence::open_mode mode,
                                 persistence::store_errc code) {
  auto before = slurp(path);
  auto db = persistence::store::open(path, mode);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == code);
  auto msg = render(db.error());
  BOOST_TEST(msg.find(path) != std::string::npos, msg);
  BOOST_TEST((slurp(path) == before), "the refused file changed");
  return msg;
}

inline const char* mode_name(persistence::open_mode mode) {
  return mode == persistence::open_mode::read_only ? "read_only" : "read_write";
}

} // namespace troupe::test
