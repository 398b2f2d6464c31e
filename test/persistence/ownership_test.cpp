// Run ownership in the store (persistence/run_owner.hpp): one writer per
// unfinished run. Two stores on one file play two processes.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <unistd.h>

#include "persistence/run_owner.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::make_event;
using test::seal;
using test::temp_dir;

namespace {

constexpr int64_t lease_us = 30'000'000;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

sealed_event event_of(const std::string& run, uint32_t seq) {
  if (seq == 1)
    return seal(make_event(run, 1, run_start{}));
  return seal(make_event(run, seq, tool_call{"c" + std::to_string(seq), "echo", "{}"}));
}

store writer(const std::string& path, const std::string& owner) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  BOOST_REQUIRE(!db->write_as(owner, lease_us));
  return std::move(*db);
}

// An owner id of this machine whose process is gone: our own id with a pid
// start time no process has.
std::string gone_owner() {
  auto id = this_process_owner();
  return id.substr(0, id.rfind('/')) + "/1";
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_ownership)

BOOST_AUTO_TEST_CASE(a_new_run_belongs_to_its_first_writer_and_no_one_else) {
  temp_dir dir;
  auto path = dir.file("j.db");
  auto a = writer(path, this_process_owner());
  auto b = writer(path, "elsewhere/boot/ns/1/1");
  std::vector<std::string> refused;
  BOOST_REQUIRE(!a.append({event_of("run", 1)}, &refused));
  BOOST_TEST(refused.empty());
  // The second process writes nothing to it, and its own run goes through.
  BOOST_REQUIRE(!b.append({event_of("run", 2), event_of("other", 1)}, &refused));
  BOOST_TEST(refused == std::vector<std::string>{"run"});
  BOOST_TEST(*a.last_seq("run") == 1u);
  BOOST_TEST(*b.last_seq("other") == 1u);
  auto err = b.claim_run("run", now_us());
  BOOST_TEST((err == store_errc::run_owned), render(err));
  BOOST_TEST(render(err).find(this_process_owner()) != std::string::npos, render(err));
  BOOST_REQUIRE(!a.append({event_of("run", 2)}, &refused));
  BOOST_TEST(refused.empty());
}

BOOST_AUTO_TEST_CASE(a_run_of_a_process_that_is_gone_is_taken_over_at_once) {
  temp_dir dir;
  auto path = dir.file("j.db");
  {
    auto dead = writer(path, gone_owner());
    BOOST_REQUIRE(!dead.append({event_of("run", 1)}));
  }
  auto live = writer(path, this_process_owner());
  std::vector<std::string> refused;
  BOOST_REQUIRE(!live.append({event_of("run", 2)}, &refused));
  BOOST_TEST(refused == std::vector<std::string>{"run"}); // not claimed yet
  BOOST_REQUIRE(!live.claim_run("run", now_us()));
  BOOST_REQUIRE(!live.append({event_of("run", 2)}, &refused));
  BOOST_TEST(refused.empty());
  BOOST_TEST(*live.last_seq("run") == 2u);
}

BOOST_AUTO_TEST_CASE(a_holder_elsewhere_keeps_the_run_until_its_lease_expires) {
  temp_dir dir;
  auto path = dir.file("j.db");
  auto remote = writer(path, "other-host/other-boot/ns/7/7");
  BOOST_REQUIRE(!remote.append({event_of("run", 1)}));
  // Its second batch finds the run known as its own (no other connection
  // committed in between).
  std::vector<std::string> refused;
  BOOST_REQUIRE(!remote.append({event_of("run", 2)}, &refused));
  BOOST_TEST(refused.empty());
  auto here = writer(path, this_process_owner());
  BOOST_TEST((here.claim_run("run", now_us()) == store_errc::run_owned));
  // Renewal keeps it; only past the lease may another process take it.
  BOOST_REQUIRE(!remote.renew_leases(now_us()));
  BOOST_TEST((here.claim_run("run", now_us() + lease_us / 2) == store_errc::run_owned));
  BOOST_REQUIRE(!here.claim_run("run", now_us() + 2 * lease_us));
  // The former holder's next append is refused, and it learns which run.
  BOOST_REQUIRE(!remote.append({event_of("run", 3)}, &refused));
  BOOST_TEST(refused == std::vector<std::string>{"run"});
}

BOOST_AUTO_TEST_CASE(a_finished_run_is_released_and_cannot_be_claimed) {
  temp_dir dir;
  auto path = dir.file("j.db");
  auto a = writer(path, this_process_owner());
  completion done;
  done.status = run_status::completed;
  BOOST_REQUIRE(!a.append({event_of("run", 1), seal(make_event("run", 2, done))}));
  BOOST_TEST(test::raw_db(path).scalar("SELECT count(*) FROM run_owners") == 0);
  BOOST_TEST((a.claim_run("run", now_us()) == store_errc::run_finished));
  BOOST_TEST((a.claim_run("nope", now_us()) == store_errc::unknown_run));
}

BOOST_AUTO_TEST_CASE(liveness_knows_this_process_and_a_gone_one) {
  BOOST_TEST((liveness_of(this_process_owner()) == owner_liveness::alive));
  BOOST_TEST((liveness_of(gone_owner()) == owner_liveness::gone));
  BOOST_TEST((liveness_of("other-host/other-boot/ns/1/1") == owner_liveness::unknown));
  BOOST_TEST((liveness_of("garbage") == owner_liveness::unknown));
}

BOOST_AUTO_TEST_SUITE_END()
