#pragma once
// A run's journal written by hand, the way the run actor writes it: every
// event folded as it is added, checkpoints carrying the snapshot of the state
// before them (checkpoint_of, core/run_decisions.hpp). For tests of
// snapshots, restores and replay that need no actor, journal or clock.

#include <string>
#include <vector>

#include "core/run_decisions.hpp"
#include "core/run_state.hpp"

namespace troupe::test {

struct run_journal {
  std::vector<event> events;
  run_state st; ///< the fold of `events`
  int64_t now = 1'000'000;

  /// Starts with run_start: instructions and a task, so the conversation has
  /// two messages before the first turn.
  explicit run_journal(std::vector<std::string> tools = {"echo", "complete"}) {
    run_start s;
    s.agent = "lead";
    s.task = "do it";
    s.model = "script";
    s.instructions = "be good";
    s.tools = std::move(tools);
    s.scenario = "s.toml";
    s.workspace = "/w";
    add(std::move(s));
  }

  /// Appends (and folds) one event; the clock advances 1 ms per event.
  const event& add(event_body body) {
    event ev;
    ev.run_id = "r-1";
    ev.seq = static_cast<uint32_t>(events.size() + 1);
    ev.ts_us = now;
    now += 1000;
    ev.body = std::move(body);
    apply(st, ev);
    events.push_back(std::move(ev));
    return events.back();
  }

  /// Appends the checkpoint the run would write now.
  const event& add_checkpoint() { return add(checkpoint_of(st)); }

  /// One turn whose reply calls echo once per id, each allowed and run.
  void echo_turn(const std::vector<std::string>& ids) {
    auto turn = st.turn + 1;
    add(turn_start{turn, st.next_mode});
    add(model_request{turn, "script", st.tools, 1});
    model_reply r{turn, "calling", {}, {10, 5}, "", 7};
    for (auto& id : ids)
      r.tool_calls.push_back({id, "echo", R"({ "text" : ")" + id + R"(" })"});
    add(r);
    for (auto& id : ids) {
      add(policy_decision{id, decision_kind::allow, "ok", "v1", "", {{"TOKEN"}, false, false, 0}});
      add(tool_call{id, "echo", R"({"text":")" + id + R"("})"});
      add(tool_result{id, "echo", true, "echoed " + id});
      add_checkpoint();
    }
    add(turn_end{turn});
    add_checkpoint();
  }
};

/// The fold of `events[0, n)`.
inline run_state fold_prefix(const std::vector<event>& events, size_t n) {
  run_state st;
  for (size_t i = 0; i < n; ++i)
    apply(st, events[i]);
  return st;
}

} // namespace troupe::test
