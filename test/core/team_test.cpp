// SOP teams and self-verification, decided purely: phases in order, gates
// from the role runs' ends, approvals by a role or a person, retries with
// feedback, skip rules, fix turns with the checks' report, artifacts, and a
// team resumed from its journal not redoing a passed phase. No actors.

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "core/builtin_tools.hpp"
#include "core/delegation.hpp"
#include "core/replay.hpp"
#include "core/run_decisions.hpp"
#include "core/team.hpp"
#include "core/verification.hpp"
#include "schemas/errors.hpp"

using namespace troupe;
using json = nlohmann::json;

namespace {

struct driver {
  tool_registry registry;
  policy governance = default_policy();
  run_state st;
  std::vector<event> journal;
  int64_t now = 1'000'000;

  explicit driver(run_start start) {
    BOOST_REQUIRE(!register_builtin_tools(registry));
    start.workspace = "/w";
    feed(std::move(start), "team");
  }

  void feed(event_body body, std::string id = {}) {
    event ev;
    ev.run_id = id.empty() ? st.run_id : id;
    ev.seq = static_cast<uint32_t>(journal.size() + 1);
    ev.ts_us = now;
    ev.body = std::move(body);
    apply(st, ev);
    journal.push_back(std::move(ev));
  }

  decision next() const { return decide_next(st, decision_inputs{registry, governance, now, nullptr}); }

  // Journals decisions until the run waits; returns the last effect.
  run_effect settle() {
    for (int guard = 0; guard < 100; ++guard) {
      auto d = next();
      for (auto& body : d.journal)
        feed(body);
      if (std::holds_alternative<go_on>(d.effect) && !d.journal.empty())
        continue;
      return d.effect;
    }
    BOOST_FAIL("the run never settled");
    return idle{};
  }

  void child_ends(const delegation& d, run_status status, std::string answer,
                  uint32_t attempts = 1, std::vector<artifact> artifacts = {}) {
    run_result r{d.child_run_id, status, answer, answer, "", {}, attempts, std::move(artifacts)};
    feed(delegation_result_of(d, r));
  }

  template <class T>
  std::vector<T> events() const {
    std::vector<T> out;
    for (auto& ev : journal)
      if (auto* x = std::get_if<T>(&ev.body))
        out.push_back(*x);
    return out;
  }
};

gate_check tests_check() {
  return gate_check{"tests", "test_passes", "", {"python3", "t.py"}, "", ""};
}

run_start team_start(std::string approver = "") {
  run_start s;
  s.agent = "ship";
  s.team = "ship";
  s.task = "ship it";
  s.scenario = "team.toml";
  s.limits.max_turns = 40;
  s.limits.max_tool_calls = 40;
  s.children_on_end = "wait";
  team_phase plan{"plan", "planner", "plan it", {}, "", 3, std::nullopt};
  team_phase build{"build", "coder", "build it", {tests_check()}, "", 3, std::nullopt};
  team_phase review{"review", "reviewer", "review it", {}, std::move(approver), 2,
                    skip_rule{true, 1, 10}};
  s.phases = {plan, build, review};
  return s;
}

const delegation& started(const run_effect& e) {
  auto* c = std::get_if<start_child>(&e);
  BOOST_REQUIRE_MESSAGE(c != nullptr, "the team started no child (effect #" << e.index() << ")");
  return c->child;
}

} // namespace

BOOST_AUTO_TEST_SUITE(teams)

BOOST_AUTO_TEST_CASE(phases_run_in_order_and_a_rejection_sends_the_phase_round_again) {
  driver t{team_start("lead")};
  auto plan = started(t.settle());
  BOOST_TEST(plan.agent == "planner");
  BOOST_TEST(plan.phase == "plan");
  BOOST_TEST(t.events<phase_start>().size() == 1u);
  t.child_ends(plan, run_status::completed, "planned", 1, {{"plan.md", "ab", 10, 30, "planner", "plan"}});
  auto build = started(t.settle());
  BOOST_TEST(build.agent == "coder");
  BOOST_REQUIRE_EQUAL(build.checks.size(), 1u); // the gate runs in the role's run
  BOOST_TEST(build.checks[0].name == "tests");
  BOOST_TEST(build.max_fix_attempts == 3u);
  // Two runs of the checks in the coder's run: not a first-try pass, so the
  // review is not skipped.
  t.child_ends(build, run_status::completed, "built", 2, {{"g.py", "cd", 40, 2, "coder", "build"}});
  auto review = started(t.settle());
  BOOST_TEST(review.agent == "reviewer");
  t.child_ends(review, run_status::completed, "looks fine to me");
  auto approval = started(t.settle()); // the approving role answers yes or no
  BOOST_TEST(approval.agent == "lead");
  BOOST_TEST(approval.output_schema.find("approved") != std::string::npos);
  t.child_ends(approval, run_status::completed, R"({"approved": false, "reason": "no docstring"})");
  // The phase goes round again, its role told why.
  auto again = started(t.settle());
  BOOST_TEST(again.agent == "reviewer");
  BOOST_TEST(again.task.find("no docstring") != std::string::npos);
  BOOST_TEST(t.events<gate_fail>().size() == 1u);
  BOOST_TEST(t.events<phase_start>().back().attempt == 2u);
  t.child_ends(again, run_status::completed, "docstring asked for");
  auto second = started(t.settle());
  t.child_ends(second, run_status::completed, R"({"approved": true, "reason": "good"})");
  auto end = t.settle();
  BOOST_TEST(std::holds_alternative<stop>(end));
  BOOST_REQUIRE(t.st.outcome);
  BOOST_TEST((t.st.outcome->status == run_status::completed));
  BOOST_TEST(t.st.outcome->summary.find("- review (reviewer): passed, attempt 2 of 2") != std::string::npos,
             t.st.outcome->summary);
  auto rep = replay_run(t.journal, t.registry, t.governance);
  BOOST_TEST(rep.identical(), (rep.divergence ? rep.divergence->expected + " | " + rep.divergence->got
                                              : std::string{}));
}

BOOST_AUTO_TEST_CASE(a_role_run_that_did_not_pass_its_checks_ends_the_team_with_a_partial_report) {
  driver t{team_start()};
  t.child_ends(started(t.settle()), run_status::completed, "planned");
  auto build = started(t.settle());
  t.child_ends(build, run_status::limit_reached, "", 3);
  auto end = t.settle();
  BOOST_TEST(std::holds_alternative<stop>(end));
  BOOST_REQUIRE(t.st.outcome);
  BOOST_TEST((t.st.outcome->status == run_status::limit_reached));
  BOOST_TEST(t.st.outcome->reason == "gate_failed");
  BOOST_TEST(t.st.outcome->summary.find("- plan (planner): passed") != std::string::npos);
  BOOST_TEST(t.st.outcome->summary.find("- build (coder): failed") != std::string::npos);
  BOOST_TEST(t.st.outcome->summary.find("- review (reviewer): not started") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_review_is_skipped_only_by_its_rule_and_the_reason_is_journaled) {
  driver t{team_start()};
  t.child_ends(started(t.settle()), run_status::completed, "planned");
  auto build = started(t.settle());
  t.child_ends(build, run_status::completed, "built", 1, {{"g.py", "cd", 40, 2, "coder", "build"}});
  auto end = t.settle();
  BOOST_TEST(std::holds_alternative<stop>(end));
  auto passes = t.events<gate_pass>();
  BOOST_REQUIRE_EQUAL(passes.size(), 3u);
  BOOST_TEST(passes[2].skipped);
  BOOST_TEST(passes[2].review_skipped_reason.find("changed 1 files, 2 lines") != std::string::npos,
             passes[2].review_skipped_reason);
}

BOOST_AUTO_TEST_CASE(a_person_approves_through_the_approvals) {
  driver t{team_start("person")};
  t.child_ends(started(t.settle()), run_status::completed, "planned");
  t.child_ends(started(t.settle()), run_status::completed, "built", 2);
  auto asked = t.settle(); // review: its coder run first
  t.child_ends(started(asked), run_status::completed, "reviewed");
  auto wait = t.settle();
  auto* a = std::get_if<await_approval>(&wait);
  BOOST_REQUIRE(a);
  BOOST_TEST(a->request.call_id == "p2.a1.approval");
  BOOST_TEST(a->request.tool == "gate");
  t.feed(approval_decision{"p2.a1.approval", true, "alice", "ship it"});
  BOOST_TEST(std::holds_alternative<stop>(t.settle()));
  BOOST_TEST(t.events<gate_pass>().back().report.find("approved by alice") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_team_read_back_from_its_journal_does_not_redo_a_passed_phase) {
  driver t{team_start()};
  auto plan = started(t.settle());
  t.child_ends(plan, run_status::completed, "planned");
  auto build = started(t.settle()); // the process dies here: build's child is running
  run_state back;
  for (auto& ev : t.journal)
    apply(back, ev);
  BOOST_REQUIRE_EQUAL(back.children.size(), 1u);
  BOOST_TEST(back.children[0].child_run_id == build.child_run_id); // found again, not restarted
  auto d = decide_next(back, decision_inputs{t.registry, t.governance, t.now, nullptr});
  BOOST_TEST(d.journal.empty());
  BOOST_TEST(std::holds_alternative<idle>(d.effect));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(self_verification)

struct verified_run : driver {
  verified_run()
    : driver([] {
        run_start s;
        s.agent = "coder";
        s.task = "write g.py";
        s.model = "m";
        s.tools = {"write_file", "complete"};
        s.artifact = "g.py";
        s.verification = {artifact_check("g.py"), tests_check()};
        s.max_fix_attempts = 2;
        return s;
      }()) {}

  // A turn whose reply calls `complete`, up to the checks.
  run_checks complete_turn() {
    settle();
    feed(model_reply{st.turn, "", {{"c" + std::to_string(st.turn), "complete",
                                     R"({"status":"success","answer":"done"})"}},
                     {1, 1}, "", 0});
    auto e = settle();
    auto* c = std::get_if<run_checks>(&e);
    BOOST_REQUIRE_MESSAGE(c != nullptr, "no checks after complete (effect #" << e.index() << ")");
    return *c;
  }

  verification outcome(uint32_t attempt, bool tests_ok) {
    verification v{attempt, tests_ok, {{"artifact", "file_exists", true, "", "abc", 12, 2},
                                       {"tests", "test_passes", tests_ok,
                                        tests_ok ? "ok" : "AssertionError: hello ada", "", 0, 0}}};
    return v;
  }
};

BOOST_FIXTURE_TEST_CASE(a_failed_check_is_a_fix_turn_then_the_pass_records_the_artifact,
                        verified_run) {
  auto first = complete_turn();
  BOOST_TEST(first.attempt == 1u);
  auto request = json::parse(first.request);
  BOOST_REQUIRE_EQUAL(request.at("checks").size(), 2u);
  // The default policy allows no shell: the command check is denied, not run.
  BOOST_TEST(request.at("checks")[1].contains("denied"));
  feed(outcome(1, false));
  settle(); // turn_end, checkpoint, turn_start (fix), model_request
  BOOST_TEST((st.mode == turn_mode::fix));
  auto& fix = st.chat.conversation.back();
  BOOST_TEST(fix.content.find("AssertionError: hello ada") != std::string::npos, fix.content);
  BOOST_TEST(fix.content.find("Attempt 1 of 2") != std::string::npos, fix.content);
  feed(model_reply{st.turn, "", {{"c9", "complete", R"({"status":"success","answer":"fixed"})"}},
                   {1, 1}, "", 0});
  auto after_fix = settle();
  auto* second = std::get_if<run_checks>(&after_fix);
  BOOST_REQUIRE(second != nullptr);
  BOOST_TEST(second->attempt == 2u);
  feed(outcome(2, true));
  BOOST_TEST(std::holds_alternative<stop>(settle()));
  BOOST_REQUIRE_EQUAL(events<artifact>().size(), 1u);
  BOOST_TEST(events<artifact>()[0].sha256 == "abc");
  BOOST_REQUIRE(st.outcome);
  BOOST_TEST((st.outcome->status == run_status::completed));
  BOOST_TEST(st.outcome->answer == "fixed");
  BOOST_TEST(st.outcome->summary.find("attempt 1 failed") != std::string::npos);
  BOOST_TEST(st.outcome->summary.find("attempt 2 passed") != std::string::npos);
  auto r = result_of(st);
  BOOST_TEST(r.verification_attempts == 2u);
  BOOST_TEST(r.artifacts.size() == 1u);
  auto rep = replay_run(journal, registry, governance);
  BOOST_TEST(rep.identical(), (rep.divergence ? rep.divergence->expected + " | " + rep.divergence->got
                                              : std::string{}));
}

BOOST_FIXTURE_TEST_CASE(checks_that_keep_failing_end_the_run_with_every_attempts_report,
                        verified_run) {
  complete_turn();
  feed(outcome(1, false));
  settle();
  feed(model_reply{st.turn, "", {{"c9", "complete", R"({"status":"success","answer":"x"})"}},
                   {1, 1}, "", 0});
  settle();
  feed(outcome(2, false));
  BOOST_TEST(std::holds_alternative<stop>(settle()));
  BOOST_REQUIRE(st.outcome);
  BOOST_TEST((st.outcome->status == run_status::limit_reached));
  BOOST_TEST(st.outcome->reason == "verification_failed");
  BOOST_TEST(st.outcome->summary.find("attempt 1 failed") != std::string::npos);
  BOOST_TEST(st.outcome->summary.find("attempt 2 failed") != std::string::npos);
  BOOST_TEST(events<artifact>().empty());
}

BOOST_AUTO_TEST_CASE(the_tool_report_is_read_back_and_garbage_fails_every_check) {
  std::vector<gate_check> checks{artifact_check("a"), tests_check()};
  auto v = verification_of(3, checks, true,
                           R"({"results":[{"name":"artifact","kind":"file_exists","ok":true,"sha256":"ff","bytes":4,"lines":1},{"name":"tests","kind":"test_passes","ok":true,"output":"ok"}]})");
  BOOST_TEST(v.passed);
  BOOST_TEST(v.attempt == 3u);
  BOOST_TEST(v.results[0].bytes == 4u);
  auto bad = verification_of(1, checks, true, "not json");
  BOOST_TEST(!bad.passed);
  BOOST_REQUIRE_EQUAL(bad.results.size(), 2u);
  BOOST_TEST(bad.results[1].output.find("the checks did not run") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
