// The run supervisor's crash handling (actors/run_supervisor.hpp,
// "Supervision"): a run that crashes comes back from its journal after an
// exponential backoff and continues where the journal ends; one that keeps
// crashing is ended `failed` (restart_intensity_exceeded), journaled, and its
// owner told; cancels reach the run, also one that is between a crash and
// its restart. (Ids, resume and shutdown: run_supervisor_test.cpp.) Runs crash the way an embedder's bug crashes them:
// an on_event callback that throws. The real journal (on a temporary file)
// is what the supervisor restarts from; the backoff timers fire only when
// the test advances the deterministic clock.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/run_supervisor.hpp"
#include "test/actors/actor_doubles.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

struct supervisor_fixture : deterministic_fixture {
  temp_dir dir;
  std::string path = dir.file("journal.db");
  std::shared_ptr<route_log> route = std::make_shared<route_log>();
  std::shared_ptr<tools_log> tools = std::make_shared<tools_log>();
  std::shared_ptr<run_probe> probe = std::make_shared<run_probe>();
  caf::actor journal_actor = track(spawn_test_journal(sys, path));
  caf::actor route_actor = track(spawn_route_double(sys, route));
  caf::actor tools_actor = track(spawn_tools_double(sys, tools));
  /// How often on_event threw: each throw is one crash.
  std::shared_ptr<int> crashes = std::make_shared<int>(0);

  /// 10 ms doubling to 2 s; the window is an hour so that no crash of a
  /// test falls out of it, however slow the machine.
  supervisor_config config() {
    supervisor_config c;
    c.journal = journal_actor;
    c.restarts.max_restarts = 3;
    c.restarts.window = std::chrono::hours(1);
    c.restarts.initial_backoff = 10ms;
    c.restarts.max_backoff = 2s;
    c.id_prefix = "t";
    return c;
  }

  caf::actor supervisor = track(spawn_run_supervisor(sys, config()));
  /// The id the supervisor gives the one run each test launches.
  const std::string run_id = "t-1";

  /// Wiring whose on_event throws on the first `times` events of kind K
  /// (every one when `times` is negative). The count lives outside the run,
  /// so it survives restarts as a flaky embedder would.
  template <class K>
  run_wiring crashing_on(int times) {
    auto w = test_wiring(journal_actor, route_actor, tools_actor, probe);
    auto seen = std::make_shared<int>(0);
    auto crashes_ = crashes;
    w.on_event = [seen, times, crashes_](const event& ev) {
      if (!std::holds_alternative<K>(ev.body))
        return;
      if (times >= 0 && (*seen)++ >= times)
        return;
      ++*crashes_;
      throw std::runtime_error("on_event failed");
    };
    return w;
  }

  /// Starts a run; the supervisor gives it its id (`run_id`).
  void launch(run_wiring w) {
    auto h = self->request(supervisor, caf::infinite, start_atom::value,
                           run_launch{new_run_spec(""), std::move(w)});
    sched.run();
    h.receive([&](run_ticket& t) { BOOST_TEST(t.run_id == run_id); },
              [&](caf::error& err) { BOOST_FAIL("start: " << render(err)); });
  }

  /// The supervisor's answer to a cancel of `run_id`.
  bool cancel(const std::string& run_id) {
    auto h = self->request(supervisor, caf::infinite, cancel_atom::value, run_id);
    sched.run();
    bool out = false;
    h.receive([&](bool forwarded) { out = forwarded; },
              [&](caf::error& err) { BOOST_ERROR(render(err)); });
    return out;
  }

  /// The run's journaled events, decoded; seqs must be contiguous from 1.
  std::vector<event> journaled() {
    auto h = self->request(journal_actor, caf::infinite, flush_atom::value);
    sched.run();
    h.receive([] {}, [](caf::error& err) { BOOST_ERROR(render(err)); });
    std::vector<event> out;
    for (auto& row : read_run(path, run_id)) {
      BOOST_CHECK_EQUAL(row.seq, out.size() + 1);
      auto ev = decode(row.bytes);
      BOOST_REQUIRE_MESSAGE(ev, render(ev));
      out.push_back(std::move(*ev));
    }
    return out;
  }

  static std::vector<std::string> kinds_of(const std::vector<event>& evs) {
    std::vector<std::string> out;
    for (auto& ev : evs)
      out.emplace_back(to_string(ev.kind()));
    return out;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(run_supervisor_restarts)

// The run crashes twice when its tool result comes in. Each restart waits
// out the backoff (10 ms, then 20 ms), folds the journal and continues: the
// pure echo call whose result was lost runs again, nothing journaled is
// journaled twice, and the model is not asked turn 1 again.
BOOST_FIXTURE_TEST_CASE(a_crashed_run_restarts_from_its_journal_after_a_backoff,
                        supervisor_fixture) {
  route->script = {reply_calling("c1", "echo", "{}"), reply_completing()};
  tools->script = {{true, "{}", false}, {true, "{}", false}, {true, "{}", false}};
  launch(crashing_on<tool_result>(2));
  sched.run();
  BOOST_REQUIRE_EQUAL(*crashes, 1);
  BOOST_TEST(tools->requests.size() == 1u);
  // First backoff: 10 ms.
  sched.advance_time(9ms);
  sched.run();
  BOOST_TEST(tools->requests.size() == 1u, "restarted before the backoff");
  sched.advance_time(1ms);
  sched.run();
  BOOST_REQUIRE_EQUAL(*crashes, 2);
  BOOST_TEST(tools->requests.size() == 2u, "no restart after the backoff");
  // Second backoff: doubled to 20 ms.
  sched.advance_time(19ms);
  sched.run();
  BOOST_TEST(tools->requests.size() == 2u, "the backoff did not double");
  sched.advance_time(1ms);
  sched.run();
  BOOST_TEST(tools->requests.size() == 3u);
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
  BOOST_TEST(route->calls.size() == 2u, "a restart asked the model again");
  std::vector<std::string> expected{
    "run_start",  "turn_start",    "model_request", "model_reply", "policy_decision",
    "tool_call",  "tool_result",   "turn_end",      "checkpoint",
    "turn_start", "model_request", "model_reply",   "policy_decision", "tool_call",
    "tool_result", "completion"};
  BOOST_TEST(kinds_of(journaled()) == expected, boost::test_tools::per_element());
  // Finished: the supervisor forgot the run.
  BOOST_TEST(!cancel(run_id));
}

// A run that crashes every time: after max_restarts (3) restarts the fourth
// crash ends it. The failure is journaled after what the run had journaled,
// and on_done hears it once.
BOOST_FIXTURE_TEST_CASE(too_many_crashes_end_the_run_restart_intensity_exceeded,
                        supervisor_fixture) {
  launch(crashing_on<turn_start>(-1));
  sched.run();
  for (int i = 0; i < 10 && sched.has_pending_timeout(); ++i) {
    sched.trigger_timeouts();
    sched.run();
  }
  BOOST_TEST(*crashes == 4);
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "failed");
  BOOST_TEST(probe->done[0].reason == "restart_intensity_exceeded");
  BOOST_TEST(probe->done[0].summary.find("on_event failed") != std::string::npos,
             probe->done[0].summary);
  auto evs = journaled();
  BOOST_TEST(kinds_of(evs) == (std::vector<std::string>{"run_start", "completion"}),
             boost::test_tools::per_element());
  auto& done = std::get<completion>(evs.back().body);
  BOOST_TEST(to_string(done.status) == "failed");
  BOOST_TEST(done.reason == "restart_intensity_exceeded");
  BOOST_TEST(!cancel(run_id));
}

// Cancels go through the supervisor (clients never hold a run's handle,
// which changes on restart); unknown runs answer false.
BOOST_FIXTURE_TEST_CASE(a_cancel_is_forwarded_to_the_run, supervisor_fixture) {
  launch(test_wiring(journal_actor, route_actor, tools_actor, probe));
  sched.run();
  BOOST_REQUIRE_EQUAL(route->held.size(), 1u);
  BOOST_TEST(!cancel("no-such-run"));
  BOOST_TEST(cancel(run_id));
  caf::anon_send(route_actor, release_atom::value, reply_calling("c1", "echo", "{}"));
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "canceled");
  BOOST_TEST(tools->requests.empty());
  BOOST_TEST(kinds_of(journaled()).back() == "completion");
}

// A cancel that arrives while the run is down (between its crash and its
// restart) is not lost: the restarted run gets it. (The supervisor sends it
// right after the spawn, before the run has read itself back: the run takes
// it once it knows its state, see run_waits_test.)
BOOST_FIXTURE_TEST_CASE(a_cancel_between_crash_and_restart_reaches_the_new_run,
                        supervisor_fixture) {
  route->script = {reply_calling("c1", "echo", "{}")};
  launch(crashing_on<turn_start>(1));
  sched.run();
  BOOST_REQUIRE_EQUAL(*crashes, 1);
  BOOST_TEST(route->calls.empty());
  BOOST_TEST(cancel(run_id));
  sched.advance_time(10ms);
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "canceled");
  BOOST_TEST(tools->requests.empty(), "the restarted run ran the call");
  auto kinds = kinds_of(journaled());
  BOOST_TEST(std::count(kinds.begin(), kinds.end(), "run_start") == 1);
  BOOST_TEST(kinds.back() == "completion");
}

BOOST_AUTO_TEST_SUITE_END()
