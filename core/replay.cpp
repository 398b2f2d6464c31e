#include "core/replay.hpp"

#include "core/envelope.hpp"
#include "core/run_state.hpp"

namespace troupe {

namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

std::string describe_kpis(const kpis& k) {
  return "turns=" + std::to_string(k.turns) + " tool_calls="
         + std::to_string(k.tool_calls) + " model_calls="
         + std::to_string(k.model_calls) + " parse_failures="
         + std::to_string(k.parse_failures) + " tool_errors="
         + std::to_string(k.tool_errors) + " tokens="
         + std::to_string(k.input_tokens + k.output_tokens);
}

struct describer {
  std::string operator()(const run_start& x) const { return "run_start agent=" + x.agent; }
  std::string operator()(const turn_start& x) const {
    return "turn_start turn=" + std::to_string(x.turn) + " mode="
           + std::string(to_string(x.mode));
  }
  std::string operator()(const model_request& x) const {
    return "model_request turn=" + std::to_string(x.turn) + " tools=" + join(x.tools);
  }
  std::string operator()(const model_reply& x) const {
    return "model_reply turn=" + std::to_string(x.turn);
  }
  std::string operator()(const tool_call& x) const {
    return "tool_call " + x.call_id + " " + x.name + " " + x.args_json;
  }
  std::string operator()(const policy_decision& x) const {
    return "policy_decision " + x.call_id + " " + x.decision + " rule=" + x.rule;
  }
  std::string operator()(const tool_result& x) const {
    return "tool_result " + x.call_id + " " + x.name;
  }
  std::string operator()(const turn_end& x) const {
    return "turn_end turn=" + std::to_string(x.turn);
  }
  std::string operator()(const recovery& x) const { return "recovery " + x.reason; }
  std::string operator()(const completion& x) const {
    return "completion " + std::string(to_string(x.status)) + " answer=" + x.answer
           + " summary=" + x.summary;
  }
  std::string operator()(const error_event& x) const {
    return "error " + x.code + " " + x.call_id;
  }
  std::string operator()(const checkpoint& x) const {
    return "checkpoint turn=" + std::to_string(x.turn) + " " + describe_kpis(x.totals);
  }
  std::string operator()(const parse_failure& x) const {
    return "parse_failure " + x.call_id + " " + x.name;
  }
  std::string operator()(const approval_request& x) const {
    return "approval_request " + x.call_id + " " + x.tool + " rule=" + x.rule;
  }
  std::string operator()(const approval_decision& x) const {
    return "approval_decision " + x.call_id;
  }
  std::string operator()(const retry& x) const { return "retry " + x.call_id; }
};

// A cancel is an operator's input: it may arrive between any two steps. An
// `uncertain` report comes from recovery after a crash, another input.
bool is_input(const event& ev) {
  if (std::holds_alternative<retry>(ev.body))
    return true; // a retryable failure and its random backoff draw
  auto* e = std::get_if<error_event>(&ev.body);
  return e != nullptr && (e->code == "canceled" || e->code == "uncertain");
}

// What the logic would journal next, as a description; empty when the next
// event is an input whose content replay takes from the journal.
std::string expected_next(const run_state& st, const tool_registry& reg,
                          const policy& governance, const event& previous) {
  if (std::holds_alternative<tool_result>(previous.body)
      || std::holds_alternative<turn_end>(previous.body)) {
    event cp;
    cp.body = checkpoint{st.turn, st.totals, {}};
    return describe_decision(cp);
  }
  if (st.phase == run_phase::awaiting_reply)
    return "model_reply turn=" + std::to_string(st.turn);
  if (auto* d = std::get_if<policy_decision>(&previous.body); d && d->decision == "ask") {
    for (auto& slot : st.calls)
      if (slot.call.call_id == d->call_id)
        return describe_decision(
          event{{}, 0, {}, {}, 0, approval_request{d->call_id, slot.call.name, "", d->rule, 0}});
  }
  for (auto& slot : st.calls)
    if (slot.status == call_slot::state::awaiting_approval)
      return "approval_decision " + slot.call.call_id;
  auto step = next_step(st);
  event ev;
  if (auto* s = std::get_if<start_turn_step>(&step))
    ev.body = turn_start{s->turn, s->mode};
  else if (auto* s = std::get_if<ask_model_step>(&step))
    ev.body = model_request{s->turn, "", s->tools, 0};
  else if (auto* s = std::get_if<vet_call_step>(&step)) {
    auto& c = st.calls[s->index].call;
    auto args = prepare_call(reg, c.name, c.args_json);
    if (!s->refusal.empty()) {
      ev.body = error_event{"refused", s->refusal, c.call_id};
    } else if (!args) {
      ev.body = parse_failure{c.call_id, c.name, c.args_json, ""};
    } else if (s->decided) {
      ev.body = tool_call{c.call_id, c.name, args->dump()};
    } else {
      auto* def = reg.find(c.name);
      bool pure = def != nullptr && def->effect == tool_effect::pure;
      auto memo = scope_violation(c.name, pure, args->dump());
      if (!memo.empty()) {
        ev.body = error_event{"out_of_scope", memo, c.call_id};
      } else {
        auto v = decide(governance, call_context{c.name, *args, st.agent, "", st.tenant});
        ev.body = policy_decision{c.call_id, std::string(to_string(v.decision)),
                                  v.rule_id, v.policy_version, v.reason};
      }
    }
  } else if (auto* s = std::get_if<execute_call_step>(&step)) {
    auto& c = st.calls[s->index].call;
    ev.body = tool_result{c.call_id, c.name, true, ""};
  } else if (auto* s = std::get_if<end_turn_step>(&step))
    ev.body = turn_end{s->turn};
  else if (auto* s = std::get_if<recover_step>(&step))
    ev.body = recovery{s->reason, s->detail};
  else if (auto* s = std::get_if<finish_step>(&step))
    ev.body = s->outcome;
  else
    return "nothing (the run is waiting or over)";
  return describe_decision(ev);
}

} // namespace

std::string describe_decision(const event& ev) {
  return std::visit(describer{}, ev.body);
}

replay_report replay_run(const std::vector<event>& events,
                         const tool_registry& registry, const policy& governance) {
  replay_report rep;
  run_state st;
  for (size_t i = 0; i < events.size(); ++i) {
    auto& ev = events[i];
    ++rep.events;
    if (i == 0) {
      if (!std::holds_alternative<run_start>(ev.body)) {
        rep.divergence = replay_divergence{ev.seq, "run_start", describe_decision(ev)};
        return rep;
      }
      apply(st, ev);
      continue;
    }
    if (!is_input(ev)) {
      auto want = expected_next(st, registry, governance, events[i - 1]);
      auto got = describe_decision(ev);
      if (want != got) {
        rep.divergence = replay_divergence{ev.seq, want, got};
        return rep;
      }
    }
    apply(st, ev);
  }
  // A run still in flight replays identically up to where it got.
  return rep;
}

} // namespace troupe
