// The run actor while it waits: for a model that never answers, a tool that
// never answers, an approver, and what a cancel does in each case. The
// deterministic scheduler fires request timeouts on demand
// (sched.trigger_timeouts()), so a 30 s model timeout costs no time, and the
// stand-ins hold replies until the test releases them.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "actors/run.hpp"
#include "core/tool_budget.hpp"
#include "test/actors/actor_doubles.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct run_fixture : deterministic_fixture {
  std::shared_ptr<journal_log> journal = std::make_shared<journal_log>();
  std::shared_ptr<route_log> route = std::make_shared<route_log>();
  std::shared_ptr<tools_log> tools = std::make_shared<tools_log>();
  std::shared_ptr<approvals_log> approvals = std::make_shared<approvals_log>();
  std::shared_ptr<run_probe> probe = std::make_shared<run_probe>();
  caf::actor journal_actor = track(spawn_journal_double(sys, journal));
  caf::actor route_actor = track(spawn_route_double(sys, route));
  caf::actor tools_actor = track(spawn_tools_double(sys, tools));
  caf::actor approvals_actor = track(spawn_approvals_double(sys, approvals));

  run_wiring wiring() { return test_wiring(journal_actor, route_actor, tools_actor, probe); }

  caf::actor start(run_wiring w) {
    auto run = track(spawn_run(sys, new_run_spec("r1"), std::move(w)));
    self->monitor(run);
    return run;
  }
  caf::actor start() { return start(wiring()); }

  /// The error codes the run journaled, in order.
  std::vector<std::string> error_codes() const {
    std::vector<std::string> out;
    for (auto& e : journal->bodies<error_event>())
      out.emplace_back(to_string(e.code));
    return out;
  }
};

/// A policy that asks before every echo and allows complete.
std::shared_ptr<const policy> asking_policy() {
  auto p = parse_policy("version = 1\napproval_timeout_ms = 600000\n"
                        "[[rule]]\nid = \"ask-echo\"\ntool = \"echo\"\ndecision = \"ask\"\n"
                        "[[rule]]\nid = \"done\"\ntool = \"complete\"\ndecision = \"allow\"\n",
                        "inline");
  BOOST_REQUIRE_MESSAGE(p, render(p));
  return std::make_shared<const policy>(std::move(*p));
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_waits)

// A route that never answers must not hang the run: at the model timeout the
// run journals a failed reply ("timeout") and takes its next turn.
BOOST_FIXTURE_TEST_CASE(a_silent_model_times_out_and_the_run_goes_on, run_fixture) {
  start();
  sched.run();
  BOOST_REQUIRE_EQUAL(route->calls.size(), 1u);
  BOOST_TEST(journal->kinds().back() == "model_request");
  BOOST_TEST(journal->bodies<model_reply>().empty());
  route->script.push_back(reply_completing()); // the second request is answered
  BOOST_TEST(sched.trigger_timeouts() == 1u);
  sched.run();
  auto replies = journal->bodies<model_reply>();
  BOOST_REQUIRE_EQUAL(replies.size(), 2u);
  BOOST_TEST(replies[0].turn == 1u);
  BOOST_TEST(replies[0].failure == "timeout");
  BOOST_TEST(replies[0].tool_calls.empty());
  // The failed turn ends normally and the next one asks again.
  BOOST_REQUIRE_EQUAL(route->calls.size(), 2u);
  BOOST_TEST(route->calls[1].turn == 2u);
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
  BOOST_TEST(probe->done[0].totals.model_errors == 1u);
}

// The first request's answer arriving after its timeout is dropped: turn 1
// keeps its one (failed) reply.
BOOST_FIXTURE_TEST_CASE(a_model_answer_after_the_timeout_is_ignored, run_fixture) {
  start();
  sched.run();
  sched.trigger_timeouts();
  sched.run(); // turn 2 asks; held as well
  BOOST_REQUIRE_EQUAL(route->calls.size(), 2u);
  caf::anon_send(route_actor, release_atom::value, reply_calling("late", "echo", "{}"));
  sched.run();
  auto replies = journal->bodies<model_reply>();
  BOOST_REQUIRE_EQUAL(replies.size(), 1u);
  BOOST_TEST(replies[0].failure == "timeout");
  BOOST_TEST(tools->requests.empty());
}

// A dead route is a failed reply too, not a crash of the run: failed replies
// count as provider failures until that limit ends the run.
BOOST_FIXTURE_TEST_CASE(an_unreachable_route_is_a_failed_reply, run_fixture) {
  auto dead = sys.spawn([](int) { return caf::behavior{[](int) {}}; }, 0);
  caf::anon_send_exit(dead, caf::exit_reason::kill);
  sched.run();
  auto run = start(test_wiring(journal_actor, dead, tools_actor, probe));
  sched.run();
  auto replies = journal->bodies<model_reply>();
  BOOST_REQUIRE(!replies.empty());
  for (auto& r : replies)
    BOOST_TEST(r.failure == "server_error");
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "limit_reached");
  BOOST_TEST(probe->done[0].reason == "provider_failed");
  BOOST_CHECK(!down_reason_of(run));
}

// A tool that never answers: at the tool timeout the run journals a failed
// result saying so and lets the model go on; the late answer changes nothing.
BOOST_FIXTURE_TEST_CASE(a_silent_tool_times_out_with_a_failed_result, run_fixture) {
  route->script.push_back(reply_calling("c1", "echo", "{}"));
  start();
  sched.run();
  BOOST_REQUIRE_EQUAL(tools->requests.size(), 1u);
  BOOST_TEST(journal->bodies<tool_result>().empty());
  // Also fires the model request's stale timeout: a no-op once answered.
  sched.trigger_timeouts();
  sched.run();
  auto results = journal->bodies<tool_result>();
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  BOOST_TEST(results[0].call_id == "c1");
  BOOST_TEST(!results[0].ok);
  // The wiring's 5 s tool timeout bounds the wait, not the 120 s deadline.
  BOOST_TEST(results[0].output
             == tool_timeout_text("echo", tool_wait{std::chrono::seconds(5), false}));
  BOOST_REQUIRE_EQUAL(route->calls.size(), 2u); // turn 2 asks the model
  BOOST_TEST(route->calls[1].turn == 2u);
  caf::anon_send(tools_actor, release_atom::value, tool_outcome{true, "late", false});
  sched.run();
  BOOST_TEST(journal->bodies<tool_result>().size() == 1u);
  caf::anon_send(route_actor, release_atom::value, reply_completing());
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
  BOOST_TEST(probe->done[0].totals.tool_errors == 1u);
}

// A cancel while the model is being asked is journaled at once; the run
// stops when the reply arrives (journaled, as an input), and none of the
// reply's tool calls run.
BOOST_FIXTURE_TEST_CASE(cancel_while_waiting_for_the_model_stops_at_the_reply,
                        run_fixture) {
  auto run = start();
  sched.run();
  BOOST_REQUIRE_EQUAL(route->held.size(), 1u);
  caf::anon_send(run, cancel_atom::value);
  sched.run();
  BOOST_TEST(error_codes() == std::vector<std::string>{"canceled"},
             boost::test_tools::per_element());
  BOOST_TEST(probe->done.empty(), "the run ended before the reply it waits for");
  // The route hears it, so a real model's transfer is aborted.
  BOOST_TEST(route->canceled == std::vector<std::string>{"r1"},
             boost::test_tools::per_element());
  caf::anon_send(route_actor, release_atom::value, reply_calling("c1", "echo", "{}"));
  sched.run();
  auto kinds = journal->kinds();
  BOOST_REQUIRE_GE(kinds.size(), 3u);
  std::vector<std::string> tail(kinds.end() - 3, kinds.end());
  BOOST_TEST(tail == (std::vector<std::string>{"error", "model_reply", "completion durable"}),
             boost::test_tools::per_element());
  BOOST_TEST(tools->requests.empty());
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "canceled");
  BOOST_CHECK(!down_reason_of(run));
}

// A second cancel is not journaled twice.
BOOST_FIXTURE_TEST_CASE(a_repeated_cancel_is_journaled_once, run_fixture) {
  auto run = start();
  sched.run();
  caf::anon_send(run, cancel_atom::value);
  caf::anon_send(run, cancel_atom::value);
  sched.run();
  BOOST_TEST(error_codes() == std::vector<std::string>{"canceled"},
             boost::test_tools::per_element());
}

// A cancel sent right after the spawn reaches the run before its first
// activation, when it has journaled nothing yet (CAF runs the behavior
// function, which queues `start`, at the first activation: the cancel is
// first in the mailbox). The journal must still begin with run_start, and the
// run ends canceled without asking the model.
BOOST_FIXTURE_TEST_CASE(a_cancel_before_the_first_activation_ends_the_run_canceled,
                        run_fixture) {
  auto run = start();
  caf::anon_send(run, cancel_atom::value);
  sched.run();
  auto kinds = journal->kinds();
  BOOST_REQUIRE(!kinds.empty());
  BOOST_TEST(kinds.front() == "run_start");
  BOOST_TEST(kinds == (std::vector<std::string>{"run_start", "error", "completion durable"}),
             boost::test_tools::per_element());
  BOOST_TEST(route->calls.empty());
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "canceled");
  BOOST_CHECK(!down_reason_of(run));
}

// Waiting for a person is different: a cancel ends the run at once, without
// the decision, and the call never runs; a decision arriving later finds the
// run gone.
BOOST_FIXTURE_TEST_CASE(cancel_while_waiting_for_approval_stops_at_once, run_fixture) {
  route->script.push_back(reply_calling("c1", "echo", "{}"));
  auto w = wiring();
  w.governance = asking_policy();
  w.approvals = approvals_actor;
  auto run = start(std::move(w));
  sched.run();
  BOOST_REQUIRE_EQUAL(approvals->tickets.size(), 1u);
  BOOST_TEST(approvals->tickets[0].request.call_id == "c1");
  BOOST_TEST(journal->kinds().back() == "approval_request durable");
  caf::anon_send(run, cancel_atom::value);
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "canceled");
  BOOST_TEST(journal->kinds().back() == "completion durable");
  BOOST_CHECK(!down_reason_of(run));
  caf::anon_send(approvals_actor, release_atom::value,
                 approval_decision{"c1", true, "alice", "ok"});
  sched.run();
  BOOST_TEST(journal->bodies<approval_decision>().empty());
  BOOST_TEST(tools->requests.empty());
}

// An approval that arrives is journaled before the call runs.
BOOST_FIXTURE_TEST_CASE(an_approved_call_runs_after_its_decision, run_fixture) {
  route->script.push_back(reply_calling("c1", "echo", "{}"));
  route->script.push_back(reply_completing());
  tools->script.push_back({true, "{}", false});
  auto w = wiring();
  w.governance = asking_policy();
  w.approvals = approvals_actor;
  start(std::move(w));
  sched.run();
  BOOST_TEST(tools->requests.empty());
  caf::anon_send(approvals_actor, release_atom::value,
                 approval_decision{"c1", true, "alice", "ok"});
  sched.run();
  auto kinds = journal->kinds();
  BOOST_REQUIRE_GE(kinds.size(), 9u);
  std::vector<std::string> turn1(kinds.begin() + 4, kinds.begin() + 9);
  BOOST_TEST(turn1 == (std::vector<std::string>{"policy_decision", "approval_request durable",
                                                 "approval_decision", "tool_call",
                                                 "tool_result"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(tools->requests.size(), 1u);
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
}

BOOST_AUTO_TEST_SUITE_END()
