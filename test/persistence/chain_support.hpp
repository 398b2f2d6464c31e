#pragma once
// Recomputing a journal's hash chains in tests, independently of
// check_integrity. Every failure fails the test.

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "persistence/hash_chain.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"

namespace troupe::test {

inline persistence::event_hash
must_hash(caf::expected<persistence::event_hash> h) {
  BOOST_REQUIRE_MESSAGE(h, render(h));
  return *h;
}

/// Recomputes every run's chain of `rows` (ordered by run, then seq, as
/// store::events("") returns them): one link per batch, on its last row
/// (persistence/hash_chain.hpp), checked against the stored one. Returns the
/// number of rows checked.
inline size_t verify_chains(const std::vector<persistence::stored_event>& rows) {
  using persistence::to_hex;
  std::string run, batch;
  persistence::event_hash link{};
  for (auto& row : rows) {
    if (row.run_id != run) {
      BOOST_TEST(batch.empty(), "run " << run << " ends without a link");
      run = row.run_id;
      link = must_hash(persistence::chain_seed(run));
      batch.clear();
    }
    persistence::add_chain_row(batch, row.seq, row.ts_us, row.body.data(), row.body.size());
    if (!row.linked)
      continue;
    link = must_hash(persistence::chain_next(link, batch.data(), batch.size()));
    batch.clear();
    BOOST_TEST((row.hash == link),
               "run " << row.run_id << " seq " << row.seq << ": stored "
                      << to_hex(row.hash) << ", expected " << to_hex(link));
  }
  BOOST_TEST(batch.empty(), "run " << run << " ends without a link");
  return rows.size();
}

/// Every row of a migrated file (each old row its own batch) has a 32-byte
/// link and every chain recomputes; returns the rows.
inline size_t check_chained(const std::string& path) {
  {
    raw_db raw(path);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM events WHERE length(hash) != 32") == 0);
  }
  return verify_chains(read_run(path, ""));
}

} // namespace troupe::test
