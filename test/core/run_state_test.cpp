// The run state machine, driven directly: every transition and every limit,
// without actors, journal or clock.

#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "core/run_state.hpp"

using namespace troupe;

namespace {

limits_record roomy() {
  return limits_record{12, 50, 100000, 120000, 3, 3};
}

// roomy(), but for the limits a test is about, which `tighten` sets.
limits_record roomy(const std::function<void(limits_record&)>& tighten) {
  auto l = roomy();
  tighten(l);
  return l;
}

// Feeds events into a state, the way the run actor and replay do, with a
// clock that advances 1 ms per event.
struct harness {
  run_state st;
  std::vector<event> log;
  int64_t now = 1'000'000;

  explicit harness(limits_record limits = roomy(),
                   std::vector<std::string> tools = {"echo", "write_file",
                                                     "complete"}) {
    feed(run_start{"lead", "t", "do it", "script", "be good", std::move(tools),
                   limits, "s.toml", "/w"});
  }

  void feed(event_body body) {
    event ev;
    ev.run_id = "r";
    ev.seq = static_cast<uint32_t>(log.size() + 1);
    ev.ts_us = now;
    now += 1000;
    ev.body = std::move(body);
    apply(st, ev);
    log.push_back(ev);
  }

  run_step step() const { return next_step(st); }

  template <class T>
  T expect() const {
    auto s = step();
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<T>(s),
                          "unexpected step index " << s.index());
    return std::get<T>(s);
  }

  // One whole turn: start, ask, reply, then every call vetted and executed
  // successfully unless `outcome` says otherwise.
  void turn(model_reply reply,
            std::function<bool(const tool_call_ref&)> ok = nullptr) {
    auto start = expect<start_turn_step>();
    feed(turn_start{start.turn, start.mode});
    auto ask = expect<ask_model_step>();
    feed(model_request{ask.turn, "script", ask.tools, 1});
    reply.turn = ask.turn;
    feed(reply);
    handle_calls(ok);
  }

  void handle_calls(std::function<bool(const tool_call_ref&)> ok = nullptr) {
    for (;;) {
      auto s = step();
      if (auto* v = std::get_if<vet_call_step>(&s)) {
        auto& c = st.calls[v->index].call;
        if (!v->refusal.empty())
          feed(error_event{error_kind::refused, v->refusal, c.call_id});
        else if (c.args_json == "{bad")
          feed(parse_failure{c.call_id, c.name, c.args_json, "not JSON"});
        else
          feed(tool_call{c.call_id, c.name, c.args_json});
      } else if (auto* x = std::get_if<execute_call_step>(&s)) {
        auto c = st.calls[x->index].call;
        bool good = ok ? ok(c) : true;
        feed(tool_result{c.call_id, c.name, good, good ? "done" : "boom"});
        feed(checkpoint{st.turn, st.totals, {}});
      } else if (auto* e = std::get_if<end_turn_step>(&s)) {
        feed(turn_end{e->turn});
        feed(checkpoint{st.turn, st.totals, {}});
        return;
      } else {
        return; // finish or recover: the caller checks
      }
    }
  }
};

model_reply calls(std::vector<tool_call_ref> cs) {
  model_reply r;
  r.tool_calls = std::move(cs);
  r.tokens = {10, 5};
  return r;
}

model_reply text(std::string t) {
  model_reply r;
  r.text = std::move(t);
  r.tokens = {10, 5};
  return r;
}

model_reply failure(std::string why) {
  model_reply r;
  r.failure = std::move(why);
  return r;
}

tool_call_ref echo(std::string id) {
  return {std::move(id), "echo", R"({"i":1})"};
}

tool_call_ref complete_call(std::string status, std::string answer) {
  return {"done", "complete",
          R"({"status":")" + status + R"(","answer":")" + answer + R"("})"};
}

void finish_by_recovery(harness& h, const std::string& reason) {
  auto rec = h.expect<recover_step>();
  BOOST_TEST(rec.reason == reason);
  h.feed(recovery{rec.reason, rec.detail});
  auto start = h.expect<start_turn_step>();
  BOOST_TEST(static_cast<int>(start.mode) == static_cast<int>(turn_mode::recovery));
  h.feed(turn_start{start.turn, start.mode});
  auto ask = h.expect<ask_model_step>();
  BOOST_REQUIRE_EQUAL(ask.tools.size(), 1u);
  BOOST_TEST(ask.tools[0] == "complete");
  h.feed(model_request{ask.turn, "script", ask.tools, 1});
  auto reply = calls({complete_call("partial", "half done")});
  reply.turn = ask.turn;
  h.feed(reply);
  h.handle_calls();
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::limit_reached));
  BOOST_TEST(fin.outcome.summary == "half done");
  BOOST_TEST(fin.outcome.reason == reason);
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_state_machine)

BOOST_AUTO_TEST_CASE(a_new_state_waits_for_run_start) {
  run_state st;
  BOOST_TEST(std::holds_alternative<wait_step>(next_step(st)));
}

BOOST_AUTO_TEST_CASE(happy_path_runs_tools_then_completes) {
  harness h;
  BOOST_TEST(h.st.chat.conversation.size() == 2u); // instructions + task
  h.turn(calls({{"c1", "write_file", R"({"path":"a","content":"b"})"}}));
  BOOST_TEST(h.st.totals.tool_calls == 1u);
  BOOST_TEST(h.st.totals.turns == 1u);
  h.turn(calls({complete_call("success", "all good")}));
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::completed));
  BOOST_TEST(fin.outcome.answer == "all good");
  BOOST_TEST(fin.outcome.totals.turns == 2u);
  BOOST_TEST(fin.outcome.totals.input_tokens == 20u);
  h.feed(fin.outcome);
  BOOST_TEST(std::holds_alternative<wait_step>(h.step()));
}

BOOST_AUTO_TEST_CASE(the_model_is_asked_with_the_agents_tools) {
  harness h;
  auto start = h.expect<start_turn_step>();
  BOOST_TEST(start.turn == 1u);
  h.feed(turn_start{start.turn, start.mode});
  auto ask = h.expect<ask_model_step>();
  BOOST_TEST(ask.tools == (std::vector<std::string>{"echo", "write_file", "complete"}));
  h.feed(model_request{1, "script", ask.tools, 2});
  BOOST_TEST(std::holds_alternative<wait_step>(h.step()));
}

BOOST_AUTO_TEST_CASE(complete_with_failure_fails_the_run) {
  harness h;
  h.turn(calls({complete_call("failure", "could not")}));
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::failed));
}

BOOST_AUTO_TEST_CASE(calls_after_complete_are_not_run) {
  harness h;
  h.turn(calls({complete_call("success", "x"), echo("late")}));
  BOOST_TEST(std::holds_alternative<finish_step>(h.step()));
  BOOST_TEST(h.st.totals.tool_calls == 1u);
}

BOOST_AUTO_TEST_CASE(a_valid_complete_after_a_rejected_one_gets_its_result) {
  harness h;
  h.turn(calls({{"bad", "complete", "{bad"}, complete_call("success", "ok")}));
  auto fin = h.expect<finish_step>();
  BOOST_TEST(fin.outcome.answer == "ok");
  size_t results = 0;
  for (auto& ev : h.log)
    results += std::holds_alternative<tool_result>(ev.body) ? 1 : 0;
  BOOST_TEST(results == 1u);
}

BOOST_AUTO_TEST_CASE(a_reply_without_tool_calls_earns_a_reminder) {
  harness h;
  h.turn(text("I think I am done"));
  auto start = h.expect<start_turn_step>();
  BOOST_TEST(static_cast<int>(start.mode) == static_cast<int>(turn_mode::reminder));
  h.feed(turn_start{start.turn, start.mode});
  BOOST_TEST(h.st.chat.conversation.back().content.find("complete")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_arguments_earn_a_repair_turn) {
  harness h;
  h.turn(calls({{"c1", "echo", "{bad"}}));
  BOOST_TEST(h.st.totals.parse_failures == 1u);
  auto start = h.expect<start_turn_step>();
  BOOST_TEST(static_cast<int>(start.mode) == static_cast<int>(turn_mode::repair));
}

BOOST_AUTO_TEST_CASE(a_provider_failure_retries_in_a_normal_turn) {
  harness h;
  h.turn(failure("timeout"));
  BOOST_TEST(h.st.totals.model_errors == 1u);
  auto start = h.expect<start_turn_step>();
  BOOST_TEST(static_cast<int>(start.mode) == static_cast<int>(turn_mode::normal));
  h.turn(calls({echo("c1")}));
  BOOST_TEST(h.st.totals.retries == 1u);
}

BOOST_AUTO_TEST_CASE(a_tool_not_offered_is_refused) {
  harness h;
  h.turn(calls({{"c1", "read_file", R"({"path":"x"})"}}));
  BOOST_TEST(h.st.totals.tool_calls == 0u);
  BOOST_TEST(h.st.chat.conversation.back().content.find("not offered")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tool_messages_say_whether_the_call_failed) {
  harness h;
  h.turn(calls({echo("ok1"), echo("bad1"), {"p1", "echo", "{bad"}, {"r1", "read_file", "{}"}}),
         [](const tool_call_ref& c) { return c.call_id != "bad1"; });
  std::map<std::string, bool> failed;
  for (auto& m : h.st.chat.conversation)
    if (m.role == chat_role::tool)
      failed[m.tool_call_id] = m.tool_error;
  BOOST_TEST(failed.size() == 4u);
  BOOST_TEST(!failed["ok1"]);
  BOOST_TEST(failed["bad1"]); // the tool failed
  BOOST_TEST(failed["p1"]);   // its arguments were rejected
  BOOST_TEST(failed["r1"]);   // refused: not offered
}

BOOST_AUTO_TEST_CASE(max_turns_starts_recovery) {
  harness h(roomy([](auto& l) { l.max_turns = 2; }));
  h.turn(calls({echo("c1")}));
  h.turn(calls({echo("c2")}));
  finish_by_recovery(h, "max_turns");
}

BOOST_AUTO_TEST_CASE(max_tool_calls_refuses_extra_calls_then_recovers) {
  harness h(roomy([](auto& l) { l.max_tool_calls = 2; }));
  h.turn(calls({echo("c1"), echo("c2"), echo("c3")}));
  BOOST_TEST(h.st.totals.tool_calls == 2u);
  finish_by_recovery(h, "max_tool_calls");
}

BOOST_AUTO_TEST_CASE(max_tokens_starts_recovery) {
  harness h(roomy([](auto& l) { l.max_tokens = 20; }));
  h.turn(calls({echo("c1")}));
  h.turn(calls({echo("c2")}));
  finish_by_recovery(h, "max_tokens");
}

BOOST_AUTO_TEST_CASE(the_deadline_is_read_from_event_timestamps) {
  harness h(roomy([](auto& l) { l.deadline_ms = 5; }));
  h.turn(calls({echo("c1")}));
  BOOST_TEST(h.st.last_ts_us - h.st.started_us >= 5000);
  finish_by_recovery(h, "deadline");
}

BOOST_AUTO_TEST_CASE(consecutive_tool_errors_start_recovery) {
  harness h(roomy([](auto& l) { l.max_consecutive_errors = 2; }));
  auto fail_all = [](const tool_call_ref&) { return false; };
  h.turn(calls({echo("c1")}), fail_all);
  h.turn(calls({echo("c2")}), fail_all);
  finish_by_recovery(h, "max_consecutive_errors");
}

BOOST_AUTO_TEST_CASE(a_success_resets_consecutive_errors) {
  harness h(roomy([](auto& l) { l.max_consecutive_errors = 2; }));
  h.turn(calls({echo("c1")}), [](auto&) { return false; });
  h.turn(calls({echo("c2")}));
  h.turn(calls({echo("c3")}), [](auto&) { return false; });
  BOOST_TEST(std::holds_alternative<start_turn_step>(h.step()));
}

BOOST_AUTO_TEST_CASE(a_failing_provider_starts_recovery_as_provider_failed) {
  harness h(roomy([](auto& l) { l.max_consecutive_errors = 2; }));
  h.turn(failure("server_error"));
  h.turn(failure("rate_limited"));
  finish_by_recovery(h, "provider_failed");
}

BOOST_AUTO_TEST_CASE(repeated_parse_failures_start_recovery) {
  harness h(roomy([](auto& l) {
    l.max_parse_failures = 2;
    l.max_consecutive_errors = 10;
  }));
  h.turn(calls({{"c1", "echo", "{bad"}}));
  h.turn(calls({{"c2", "echo", "{bad"}}));
  finish_by_recovery(h, "max_parse_failures");
}

BOOST_AUTO_TEST_CASE(a_failed_recovery_turn_ends_with_the_runtimes_summary) {
  harness h(roomy([](auto& l) { l.max_turns = 1; }));
  h.turn(calls({echo("c1")}));
  auto rec = h.expect<recover_step>();
  h.feed(recovery{rec.reason, rec.detail});
  h.turn(failure("exhausted"));
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::limit_reached));
  BOOST_TEST(fin.outcome.summary.find("max_turns") != std::string::npos);
  BOOST_TEST(fin.outcome.summary.find("echo ok") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_recovery_turn_refuses_every_tool_but_complete) {
  harness h(roomy([](auto& l) { l.max_turns = 1; }));
  h.turn(calls({echo("c1")}));
  auto rec = h.expect<recover_step>();
  h.feed(recovery{rec.reason, rec.detail});
  h.turn(calls({echo("c2")}));
  BOOST_TEST(h.st.totals.tool_calls == 1u);
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::limit_reached));
  BOOST_TEST(!fin.outcome.summary.empty());
}

BOOST_AUTO_TEST_CASE(cancel_between_turns_finishes_canceled) {
  harness h;
  h.turn(calls({echo("c1")}));
  h.feed(error_event{error_kind::canceled, "by test", ""});
  auto fin = h.expect<finish_step>();
  BOOST_TEST(static_cast<int>(fin.outcome.status)
             == static_cast<int>(run_status::canceled));
}

BOOST_AUTO_TEST_CASE(folding_the_same_events_gives_the_same_state) {
  harness h;
  h.turn(calls({echo("c1"), {"c2", "echo", "{bad"}}));
  h.turn(text("hmm"));
  run_state again;
  for (auto& ev : h.log)
    apply(again, ev);
  BOOST_TEST(again.totals.turns == h.st.totals.turns);
  BOOST_TEST(again.totals.parse_failures == h.st.totals.parse_failures);
  BOOST_TEST(again.chat.conversation.size() == h.st.chat.conversation.size());
  BOOST_TEST(next_step(again).index() == next_step(h.st).index());
  BOOST_TEST(static_cast<int>(again.next_mode) == static_cast<int>(h.st.next_mode));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scope_boundary)

BOOST_AUTO_TEST_CASE(writes_and_working_dirs_outside_the_workspace_are_out_of_scope) {
  BOOST_TEST(!scope_violation("write_file", false, nlohmann::json::parse(R"({"path":"../x"})")).empty());
  BOOST_TEST(!scope_violation("write_file", false, nlohmann::json::parse(R"({"path":"/etc/passwd"})")).empty());
  BOOST_TEST(!scope_violation("write_file", false, nlohmann::json::parse(R"({"path":"a/../../x"})")).empty());
  BOOST_TEST(!scope_violation("shell", false, nlohmann::json::parse(R"({"argv":["ls"],"cwd":".."})")).empty());
  BOOST_TEST(scope_violation("write_file", false, nlohmann::json::parse(R"({"path":"a/..b/x"})")).empty());
  BOOST_TEST(scope_violation("write_file", false, nlohmann::json::parse(R"({"path":"notes/x.md"})")).empty());
  BOOST_TEST(scope_violation("shell", false, nlohmann::json::parse(R"({"argv":["ls"],"cwd":"src"})")).empty());
  // Pure tools never write: reads outside are the policy's business.
  BOOST_TEST(scope_violation("read_file", true, nlohmann::json::parse(R"({"path":"../x"})")).empty());
  BOOST_TEST(scope_violation("echo", false, nlohmann::json::parse("[1]")).empty());
}

BOOST_AUTO_TEST_SUITE_END()
