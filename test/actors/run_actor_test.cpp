// The run actor's conversation with the journal: which events a turn
// journals and in which order, which appends are durable, that a tool runs
// only after its intent is durable, and what the run does when the journal
// refuses an append or an embedder's callback throws. The journal, route and
// tools are scripted stand-ins (actor_doubles.hpp) so the test decides when
// each reply arrives; one test runs on the real journal to show that the
// file holds what the run reported.

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "actors/run.hpp"
#include "test/actors/actor_doubles.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

/// A run with stand-ins for everything it talks to.
struct run_fixture : deterministic_fixture {
  std::shared_ptr<journal_log> journal = std::make_shared<journal_log>();
  std::shared_ptr<route_log> route = std::make_shared<route_log>();
  std::shared_ptr<tools_log> tools = std::make_shared<tools_log>();
  std::shared_ptr<run_probe> probe = std::make_shared<run_probe>();
  caf::actor journal_actor = track(spawn_journal_double(sys, journal));
  caf::actor route_actor = track(spawn_route_double(sys, route));
  caf::actor tools_actor = track(spawn_tools_double(sys, tools));

  run_wiring wiring() { return test_wiring(journal_actor, route_actor, tools_actor, probe); }

  /// Spawns the run, monitored by `self`.
  caf::actor start(run_wiring w, run_spec spec = new_run_spec("r1")) {
    auto run = track(spawn_run(sys, std::move(spec), std::move(w)));
    self->monitor(run);
    return run;
  }
  caf::actor start() { return start(wiring()); }
};

// One turn that calls echo, then one that completes.
void script_echo_then_complete(route_log& route, tools_log& tools) {
  route.script.push_back(reply_calling("c1", "echo", R"({"text":"hi"})"));
  route.script.push_back(reply_completing());
  tools.script.push_back({true, R"({"text":"hi"})", false});
}

// One turn that calls append_file (unsafe: its intent is durable), then one
// that completes; start the run with unsafe_spec().
void script_append_then_complete(route_log& route, tools_log& tools) {
  route.script.push_back(
    reply_calling("c1", "append_file", R"({"path":"log.txt","content":"x"})"));
  route.script.push_back(reply_completing());
  tools.script.push_back({true, "appended", false});
}

run_spec unsafe_spec() { return new_run_spec("r1", {"echo", "append_file", "complete"}); }

} // namespace

BOOST_AUTO_TEST_SUITE(run_actor)

// The order is the contract resume and replay rely on: the intent before the
// execution, the turn's checkpoint after its turn_end. Only the completion
// waits for its commit here: echo is pure, so its intent need not (the next
// test has an unsafe tool), and a checkpoint never does.
BOOST_FIXTURE_TEST_CASE(a_turn_with_a_tool_call_journals_in_order, run_fixture) {
  script_echo_then_complete(*route, *tools);
  auto run = start();
  sched.run();
  std::vector<std::string> expected{
    "run_start",   "turn_start",      "model_request", "model_reply",
    "policy_decision", "tool_call",   "tool_result",   "turn_end",
    "checkpoint",  "turn_start",      "model_request", "model_reply",
    "policy_decision", "tool_call",   "tool_result",   "completion durable"};
  BOOST_TEST(journal->kinds() == expected, boost::test_tools::per_element());
  // The run reports exactly what it journals, in the same order.
  BOOST_REQUIRE_EQUAL(probe->events.size(), journal->appends.size());
  for (size_t i = 0; i < probe->events.size(); ++i)
    BOOST_CHECK(probe->events[i].kind() == journal->appends[i].ev.kind());
  // The tool got the call the model made, with normalized arguments.
  BOOST_REQUIRE_EQUAL(tools->requests.size(), 1u);
  BOOST_TEST(tools->requests[0].run_id == "r1");
  BOOST_TEST(tools->requests[0].call_id == "c1");
  BOOST_TEST(tools->requests[0].args_json == R"({"text":"hi"})");
  auto results = journal->bodies<tool_result>();
  BOOST_REQUIRE_EQUAL(results.size(), 2u);
  BOOST_TEST(results[0].ok);
  BOOST_TEST(results[0].output == R"({"text":"hi"})");
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
  BOOST_TEST(probe->done[0].answer == "finished");
  // The run ends by itself once its completion is durable.
  BOOST_CHECK(!down_reason_of(run));
}

// Write-ahead: if the process dies between an unsafe tool's effect and its
// intent's commit, resume must still know the call was made. So the
// journal's acknowledgement of the durable tool_call must come before
// `execute`; nothing after it waits for a commit until the completion.
BOOST_FIXTURE_TEST_CASE(an_unsafe_tool_runs_only_after_its_intent_is_durable, run_fixture) {
  script_append_then_complete(*route, *tools);
  journal->hold_durable = true;
  start(wiring(), unsafe_spec());
  sched.run();
  BOOST_REQUIRE(!journal->appends.empty());
  BOOST_TEST(journal->kinds().back() == "tool_call durable");
  BOOST_REQUIRE_EQUAL(journal->held.size(), 1u);
  BOOST_TEST(tools->requests.empty(), "the tool ran before its intent was durable");
  caf::anon_send(journal_actor, release_atom::value);
  sched.run();
  BOOST_REQUIRE_EQUAL(tools->requests.size(), 1u);
  BOOST_TEST(tools->requests[0].call_id == "c1");
  // The result, the turn's end and the next turn go on without a commit;
  // the completion is the next durable append.
  BOOST_TEST(journal->kinds().back() == "completion durable");
  BOOST_REQUIRE_EQUAL(journal->bodies<turn_end>().size(), 1u);
}

// A pure tool's intent is not waited for: if a crash loses it, the call is
// decided and run again.
BOOST_FIXTURE_TEST_CASE(a_pure_tool_does_not_wait_for_a_commit, run_fixture) {
  script_echo_then_complete(*route, *tools);
  journal->hold_durable = true;
  start();
  sched.run();
  BOOST_REQUIRE_EQUAL(tools->requests.size(), 1u);
  BOOST_TEST(journal->kinds().back() == "completion durable");
  BOOST_TEST(journal->held.size() == 1u); // the completion only
}

// `complete` ends the run inside the run loop (core/builtin_tools.hpp: "the
// run loop intercepts the call"): it never waits for a tool worker, a tool
// timeout or the run's deadline, and its result is the loop's own. (The first
// decision layer sent an allowed `complete` to the tool pool; this caught it.)
BOOST_FIXTURE_TEST_CASE(complete_ends_the_run_without_the_tool_pool, run_fixture) {
  route->script.push_back(reply_completing());
  start();
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(tools->completes.empty(), "complete was sent to the tool pool");
  auto results = journal->bodies<tool_result>();
  BOOST_REQUIRE_EQUAL(results.size(), 1u);
  BOOST_TEST(results[0].output == "run completed");
}

// The journal file holds exactly the events the run reported, seq 1..n.
BOOST_FIXTURE_TEST_CASE(the_real_journal_holds_what_the_run_reported, run_fixture) {
  temp_dir dir;
  auto path = dir.file("journal.db");
  auto real = track(spawn_test_journal(sys, path));
  script_echo_then_complete(*route, *tools);
  start(test_wiring(real, route_actor, tools_actor, probe));
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "completed");
  auto rows = read_run(path, "r1");
  BOOST_REQUIRE_EQUAL(rows.size(), probe->events.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST(rows[i].seq == i + 1);
    auto ev = decode(rows[i].bytes);
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    BOOST_CHECK_MESSAGE(ev->kind() == probe->events[i].kind(),
                        "seq " << i + 1 << ": " << to_string(ev->kind()) << " vs "
                               << to_string(probe->events[i].kind()));
  }
}

// A durable append the journal refuses (an unsafe tool's intent): nothing
// the run does next could be recorded, so it stops `failed` (journal_failed)
// and never runs the tool.
BOOST_FIXTURE_TEST_CASE(a_refused_append_ends_the_run_journal_failed, run_fixture) {
  script_append_then_complete(*route, *tools);
  journal->refuse = [](const event& ev, bool) {
    if (std::holds_alternative<tool_call>(ev.body))
      return caf::make_error(journal_errc::writer_failed, "injected commit failure");
    return caf::error{};
  };
  auto run = start(wiring(), unsafe_spec());
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "failed");
  BOOST_TEST(probe->done[0].reason == "journal_failed");
  BOOST_TEST(probe->done[0].summary.find("injected commit failure") != std::string::npos,
             probe->done[0].summary);
  BOOST_TEST(tools->requests.empty(), "the tool ran although its intent was refused");
  BOOST_TEST(journal->kinds().back() == "policy_decision");
  BOOST_CHECK(!down_reason_of(run));
}

// A pipelined (accepted-only) append that fails: the run learns it from the
// reply after it went on, and stops the same way.
BOOST_FIXTURE_TEST_CASE(a_refused_pipelined_append_ends_the_run_too, run_fixture) {
  journal->refuse = [](const event& ev, bool durable) {
    if (!durable && std::holds_alternative<turn_start>(ev.body))
      return caf::make_error(journal_errc::busy, "injected backpressure");
    return caf::error{};
  };
  auto run = start();
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "failed");
  BOOST_TEST(probe->done[0].reason == "journal_failed");
  BOOST_CHECK(!down_reason_of(run));
}

// Another process took the run over: this one stops without claiming a
// failure (the run goes on elsewhere) and writes nothing more.
BOOST_FIXTURE_TEST_CASE(not_owner_ends_the_run_owned_elsewhere, run_fixture) {
  script_append_then_complete(*route, *tools);
  journal->refuse = [](const event& ev, bool) {
    if (std::holds_alternative<tool_call>(ev.body))
      return caf::make_error(journal_errc::not_owner, "run r1 taken over");
    return caf::error{};
  };
  auto run = start(wiring(), unsafe_spec());
  sched.run();
  BOOST_REQUIRE_EQUAL(probe->done.size(), 1u);
  BOOST_TEST(to_string(probe->done[0].status) == "running");
  BOOST_TEST(probe->done[0].reason == "owned_elsewhere");
  BOOST_TEST(tools->requests.empty());
  BOOST_TEST(journal->kinds().back() == "policy_decision");
  BOOST_CHECK(!down_reason_of(run));
}

// An exception from the embedder's callback escapes a handler: the run
// crashes with an error exit reason (what its supervisor restarts on), not a
// normal exit that would look like a finished run, and on_done is not called.
BOOST_FIXTURE_TEST_CASE(a_throwing_on_event_crashes_the_run_with_an_error, run_fixture) {
  script_echo_then_complete(*route, *tools);
  auto w = wiring();
  w.on_event = [](const event& ev) {
    if (std::holds_alternative<model_reply>(ev.body))
      throw std::runtime_error("embedder bug");
  };
  auto run = start(std::move(w));
  sched.run();
  auto reason = down_reason_of(run);
  BOOST_REQUIRE(reason);
  BOOST_CHECK(reason != caf::exit_reason::normal);
  auto text = sys.render(reason);
  BOOST_TEST(text.find("embedder bug") != std::string::npos, text);
  BOOST_TEST(text.find("r1") != std::string::npos, text);
  BOOST_TEST(probe->done.empty());
  BOOST_TEST(tools->requests.empty());
}

BOOST_AUTO_TEST_SUITE_END()
