// The decision layer, driven directly: what a run journals and does next for
// each kind of call, that grants come from the journaled decision, and the
// retry backoff. No actors, journal or clock.

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "core/builtin_tools.hpp"
#include "core/policy.hpp"
#include "core/run_decisions.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

constexpr const char* policy_text = R"(version = 1
mode = "enforce"
default = "deny"
approval_timeout_ms = 60000

[[rule]]
id = "write-granted"
tool = "write_file"
paths = ["notes/**"]
decision = "allow"
secrets = ["ALPHA"]
network = true

[[rule]]
id = "append-asks"
tool = "append_file"
decision = "ask"
secrets = ["BETA"]

[[rule]]
id = "finish"
tool = "complete"
decision = "allow"

[[rule]]
id = "pure-tools"
tool = "echo"
decision = "allow"

[[rule]]
id = "reads"
tool = "read_file"
decision = "allow"
)";

policy parsed(const std::string& text) {
  auto p = parse_policy(text, "test.toml");
  BOOST_REQUIRE_MESSAGE(p, render(p));
  return *p;
}

struct fixture {
  tool_registry registry;
  policy governance = parsed(policy_text);
  run_state st;
  int64_t now = 5'000'000;

  explicit fixture(std::string checkpoints = per_turn_checkpoints) {
    BOOST_REQUIRE(!register_builtin_tools(registry));
    run_start start{"lead", "t", "task", "script", "",
                    {"write_file", "append_file", "complete", "echo", "read_file"},
                    limits_record{}, "s.toml", "/w"};
    start.checkpoints = std::move(checkpoints);
    feed(start);
  }

  void feed(event_body body) {
    event ev;
    ev.run_id = "r";
    ev.ts_us = now;
    ev.body = std::move(body);
    apply(st, ev);
  }

  decision next(const policy& p) const {
    return decide_next(st, decision_inputs{registry, p, now, nullptr});
  }
  decision next() const { return next(governance); }

  // Journals what `d` says, as the actor does.
  void perform(const decision& d) {
    for (auto& body : d.journal)
      feed(body);
  }

  // Turn 1 up to the model's reply with `calls`.
  void reply_with(std::vector<tool_call_ref> calls) {
    perform(next()); // turn_start
    perform(next()); // model_request
    feed(model_reply{1, "", std::move(calls), {}, "", 0});
  }
};

template <class T>
const T& body(const decision& d, size_t i) {
  BOOST_REQUIRE_GT(d.journal.size(), i);
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<T>(d.journal[i]),
                        "event " << i << " has kind #" << d.journal[i].index());
  return std::get<T>(d.journal[i]);
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_decisions)

BOOST_FIXTURE_TEST_CASE(an_allowed_call_journals_its_grants_and_intent_then_runs, fixture) {
  reply_with({{"c1", "write_file", R"({ "path": "notes/a.md", "content": "x" })"}});
  auto d = next();
  auto& pd = body<policy_decision>(d, 0);
  BOOST_TEST((pd.decision == decision_kind::allow));
  BOOST_TEST(pd.grants.secrets == std::vector<std::string>{"ALPHA"});
  BOOST_TEST(pd.grants.network);
  auto& call = body<tool_call>(d, 1);
  BOOST_TEST(call.args_json == R"({"content":"x","path":"notes/a.md"})"); // normalized once
  BOOST_TEST((d.wait == durability::durable)); // write-ahead
  auto* run = std::get_if<run_tool>(&d.effect);
  BOOST_REQUIRE(run);
  BOOST_TEST(run->call.args_json == call.args_json);
  BOOST_TEST(run->grants.secrets == pd.grants.secrets);
}

BOOST_FIXTURE_TEST_CASE(a_denied_call_is_granted_nothing, fixture) {
  reply_with({{"c1", "write_file", R"({"path": "elsewhere.md", "content": "x"})"}});
  auto d = next();
  BOOST_REQUIRE_EQUAL(d.journal.size(), 1u);
  auto& pd = body<policy_decision>(d, 0);
  BOOST_TEST((pd.decision == decision_kind::deny));
  BOOST_TEST(pd.grants.secrets.empty());
  BOOST_TEST(std::holds_alternative<go_on>(d.effect));
}

BOOST_FIXTURE_TEST_CASE(an_ask_journals_the_request_with_its_deadline, fixture) {
  reply_with({{"c1", "append_file", R"({"path": "log.txt", "content": "x"})"}});
  auto d = next();
  BOOST_TEST((body<policy_decision>(d, 0).decision == decision_kind::ask));
  auto& req = body<approval_request>(d, 1);
  BOOST_TEST(req.deadline_us == now + 60'000'000);
  BOOST_TEST(req.rule == "append-asks");
  BOOST_TEST(std::holds_alternative<await_approval>(d.effect));
}

// The pure half of approvals_test's end-to-end case: after the decision is
// journaled, a different policy (an edited file after a restart) changes
// nothing about what the call gets.
BOOST_FIXTURE_TEST_CASE(grants_come_from_the_journal_not_the_policy_loaded_now, fixture) {
  reply_with({{"c1", "append_file", R"({"path": "log.txt", "content": "x"})"}});
  perform(next()); // policy_decision (ask) + approval_request
  feed(approval_decision{"c1", true, "ops", ""});
  auto widened = std::string(policy_text);
  widened.replace(widened.find(R"(secrets = ["BETA"])"), 18, R"(secrets = ["BETA", "GAMMA"])");
  auto d = next(parsed(widened));
  auto& call = body<tool_call>(d, 0);
  BOOST_TEST(call.args_json == R"({"content":"x","path":"log.txt"})");
  perform(d);
  auto run = next(parsed(widened));
  auto* t = std::get_if<run_tool>(&run.effect);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->grants.secrets == std::vector<std::string>{"BETA"});
}

BOOST_FIXTURE_TEST_CASE(a_lost_approval_request_is_asked_again_from_the_decision, fixture) {
  reply_with({{"c1", "append_file", R"({"path": "log.txt", "content": "x"})"}});
  auto d = next();
  feed(d.journal.front()); // the crash lost the approval_request
  now += 1'000'000;
  auto again = next(parsed("version = 1\nmode = \"enforce\"\ndefault = \"deny\"\n"));
  auto& req = body<approval_request>(again, 0);
  BOOST_TEST(req.rule == "append-asks");
  BOOST_TEST(req.deadline_us == now + 60'000'000);
}

BOOST_FIXTURE_TEST_CASE(a_crash_leaves_an_unsafe_call_uncertain_and_reruns_others, fixture) {
  reply_with({{"c1", "append_file", R"({"path": "log.txt", "content": "x"})"}});
  perform(next());
  feed(approval_decision{"c1", true, "ops", ""});
  perform(next()); // tool_call, durable; then the process dies
  std::set<std::string> recovered{"c1"};
  auto d = decide_next(st, decision_inputs{registry, governance, now, &recovered});
  BOOST_TEST((body<error_event>(d, 0).code == error_kind::uncertain));
  BOOST_TEST(!body<tool_result>(d, 1).ok);
  // Without the crash (replay, or a live run) the call simply runs.
  BOOST_TEST(std::holds_alternative<run_tool>(next().effect));
}

// A checkpoint is never waited for; one follows a result only while the
// reply has calls left (the turn's end writes the next one).
BOOST_FIXTURE_TEST_CASE(a_result_with_calls_left_is_followed_by_a_checkpoint, fixture) {
  reply_with({{"c1", "write_file", R"({"path": "notes/a.md", "content": "x"})"},
              {"c2", "complete", R"({"status": "success", "answer": "ok"})"}});
  perform(next());
  feed(tool_result{"c1", "write_file", true, "written"});
  auto cp = next();
  body<checkpoint>(cp, 0);
  BOOST_TEST((cp.wait == durability::accepted));
  perform(cp);
  auto allowed = next(); // complete: policy_decision + tool_call, then no tool runs
  BOOST_TEST(std::holds_alternative<go_on>(allowed.effect));
  BOOST_TEST((allowed.wait == durability::accepted)); // complete acts nowhere
  perform(allowed);
  auto done = next();
  BOOST_TEST(body<tool_result>(done, 0).output == "run completed");
  perform(done);
  // No calls left: no checkpoint before the completion, which is durable
  // (the caller is told).
  auto end = next();
  BOOST_TEST((body<completion>(end, 0).status == run_status::completed));
  BOOST_TEST((end.wait == durability::durable));
  BOOST_TEST(std::holds_alternative<stop>(end.effect));
}

// Per effect class: only a call that acts on the world waits for its intent.
BOOST_FIXTURE_TEST_CASE(only_effects_in_the_world_wait_for_their_intent, fixture) {
  reply_with({{"c1", "echo", R"({"i": 1})"},
              {"c2", "read_file", R"({"path": "notes/a.md"})"},
              {"c3", "append_file", R"({"path": "notes/a.md", "content": "x"})"}});
  auto pure = next();
  body<tool_call>(pure, 1);
  BOOST_TEST((pure.wait == durability::accepted));
  perform(pure);
  feed(tool_result{"c1", "echo", true, "{}"});
  perform(next()); // checkpoint: calls are left
  auto read = next();
  BOOST_TEST((read.wait == durability::accepted));
  perform(read);
  feed(tool_result{"c2", "read_file", true, ""});
  perform(next());
  perform(next()); // append_file: the policy asks
  feed(approval_decision{"c3", true, "alice", ""});
  auto unsafe = next();
  body<tool_call>(unsafe, 0);
  BOOST_TEST((unsafe.wait == durability::durable));
}

// A run begun by an older troupe (its run_start names no checkpoint rule)
// checkpoints after every result, so its journal replays identical.
BOOST_AUTO_TEST_CASE(an_older_run_checkpoints_after_every_result) {
  fixture f{""};
  f.reply_with({{"c1", "echo", R"({"i": 1})"}});
  f.perform(f.next());
  f.feed(tool_result{"c1", "echo", true, "{}"});
  auto cp = f.next();
  body<checkpoint>(cp, 0);
  BOOST_TEST((cp.wait == durability::accepted));
}

// A crash between a child's delegation_result and the answer the run
// journals with it: the run journals that answer, never a second child.
BOOST_FIXTURE_TEST_CASE(a_child_answer_a_crash_lost_is_journaled_not_delegated_again,
                        fixture) {
  std::string args = R"({"agent":"helper","task":"t"})";
  reply_with({{"c1", "delegate", args}});
  feed(policy_decision{"c1", decision_kind::allow, "r", "v", "", {}});
  feed(tool_call{"c1", "delegate", args});
  delegation d;
  d.call_id = "c1";
  d.child_run_id = "r.1";
  d.agent = "helper";
  d.task = "t";
  feed(d);
  delegation_result ended;
  ended.call_id = "c1";
  ended.child_run_id = "r.1";
  ended.answer = "42";
  feed(ended);
  auto after = next();
  BOOST_REQUIRE_EQUAL(after.journal.size(), 1u);
  auto& shown = body<tool_result>(after, 0);
  BOOST_TEST(shown.call_id == "c1");
  BOOST_TEST(shown.ok);
  BOOST_TEST(shown.output == "42");
  BOOST_TEST(std::holds_alternative<go_on>(after.effect));
}

// A turn's end is followed by its checkpoint, neither waited for.
BOOST_FIXTURE_TEST_CASE(a_turn_end_and_its_checkpoint_do_not_wait, fixture) {
  reply_with({{"c1", "echo", R"({"i": 1})"}});
  perform(next());
  feed(tool_result{"c1", "echo", true, "{}"});
  auto end = next();
  body<turn_end>(end, 0);
  BOOST_TEST((end.wait == durability::accepted));
  perform(end);
  auto cp = next();
  body<checkpoint>(cp, 0);
  BOOST_TEST((cp.wait == durability::accepted));
}

BOOST_AUTO_TEST_CASE(retries_back_off_exponentially_from_the_journaled_draw) {
  retry_policy p{3, std::chrono::microseconds(100000), std::chrono::microseconds(250000)};
  auto first = plan_retry("c", 1, true, 0.5, p, "busy");
  BOOST_REQUIRE(first);
  BOOST_TEST(first->delay_us == 100000u); // base * 2^0 * (0.5 + 0.5)
  BOOST_TEST(first->jitter == 0.5);
  auto second = plan_retry("c", 2, true, 0.0, p, "busy");
  BOOST_REQUIRE(second);
  BOOST_TEST(second->delay_us == 100000u); // base * 2^1 * 0.5
  BOOST_TEST(plan_retry("c", 2, true, 0.99, p, "busy")->delay_us == 250000u); // capped
  BOOST_TEST(!plan_retry("c", 3, true, 0.5, p, "busy")); // attempts used up
  BOOST_TEST(!plan_retry("c", 1, false, 0.5, p, "bad input")); // not retryable
}

BOOST_AUTO_TEST_SUITE_END()
