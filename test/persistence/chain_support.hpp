#pragma once
// Recomputing a journal's hash chains in tests, independently of
// check_integrity. Every failure fails the test.

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "persistence/hash_chain.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"

namespace troupe::test {

inline persistence::event_hash
must_hash(caf::expected<persistence::event_hash> h) {
  BOOST_REQUIRE_MESSAGE(h, render(h));
  return *h;
}

/// Recomputes every run's chain of `rows` (ordered by run, then seq, as
/// store::events("") returns them) and checks each stored hash against it.
/// Returns the number of rows checked.
inline size_t verify_chains(const std::vector<persistence::stored_event>& rows) {
  using persistence::to_hex;
  std::string run;
  persistence::event_hash link{};
  for (auto& row : rows) {
    if (row.run_id != run) {
      run = row.run_id;
      link = must_hash(persistence::chain_seed(run));
    }
    link = must_hash(
      persistence::chain_next(link, row.bytes.data(), row.bytes.size()));
    BOOST_TEST((row.hash == link),
               "run " << row.run_id << " seq " << row.seq << ": stored "
                      << to_hex(row.hash) << ", expected " << to_hex(link));
  }
  return rows.size();
}

} // namespace troupe::test
