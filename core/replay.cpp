#include "core/replay.hpp"

#include <deque>
#include <set>

#include "core/delegation.hpp"
#include "core/gateway/route_record.hpp"
#include "core/run_decisions.hpp"
#include "core/run_snapshot.hpp"
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
    return "policy_decision " + x.call_id + " " + std::string(to_string(x.decision))
           + " rule=" + x.rule;
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
    return "error " + std::string(to_string(x.code)) + " " + x.call_id;
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
  std::string operator()(const route_attempt& x) const {
    return "route_attempt " + x.route + " #" + std::to_string(x.attempt);
  }
  std::string operator()(const delegation& x) const {
    return "delegation " + x.call_id + " child=" + x.child_run_id + " agent=" + x.agent
           + " turns=" + std::to_string(x.limits.max_turns)
           + " tool_calls=" + std::to_string(x.limits.max_tool_calls)
           + " tokens=" + std::to_string(x.limits.max_tokens)
           + " runs=" + std::to_string(x.limits.max_descendants + 1);
  }
  std::string operator()(const delegation_result& x) const {
    return "delegation_result " + x.call_id + " " + std::string(to_string(x.status));
  }
  std::string operator()(const verification& x) const {
    return "verification attempt=" + std::to_string(x.attempt);
  }
  std::string operator()(const phase_start& x) const {
    return "phase_start " + x.name + " role=" + x.role + " attempt=" + std::to_string(x.attempt);
  }
  std::string operator()(const gate_pass& x) const {
    return "gate_pass " + x.name + " attempt=" + std::to_string(x.attempt)
           + (x.skipped ? " skipped: " + x.review_skipped_reason : "");
  }
  std::string operator()(const gate_fail& x) const {
    return "gate_fail " + x.name + " attempt=" + std::to_string(x.attempt) + ": " + x.report;
  }
  std::string operator()(const artifact& x) const {
    return "artifact " + x.path + " sha256=" + x.sha256;
  }
};

// Inputs come from outside the run's logic and may arrive between any two of
// its steps: an operator's cancel, a crash recovery's `uncertain` report, a
// retryable failure with its random backoff draw.
bool is_input(const event& ev) {
  if (std::holds_alternative<retry>(ev.body))
    return true;
  auto* e = std::get_if<error_event>(&ev.body);
  return e != nullptr && (e->code == error_kind::canceled || e->code == error_kind::uncertain);
}

// The input an effect waits for, as describe_decision renders it; empty when
// the effect awaits nothing.
std::string awaited_input(const run_state& st, const run_effect& effect) {
  if (std::holds_alternative<ask_model>(effect))
    return "model_reply turn=" + std::to_string(st.turn);
  if (auto* t = std::get_if<run_tool>(&effect))
    return "tool_result " + t->call.call_id + " " + t->call.name;
  if (auto* a = std::get_if<await_approval>(&effect))
    return "approval_decision " + a->request.call_id;
  if (auto* c = std::get_if<run_checks>(&effect))
    return "verification attempt=" + std::to_string(c->attempt);
  return {};
}

} // namespace

std::string describe_decision(const event& ev) {
  return std::visit(describer{}, ev.body);
}

namespace {

// Checks `events` in order against the logic, from `st`: the fold of the
// events before them, when no decision is half matched (after run_start or a
// checkpoint, which is journaled alone).
void replay_events(run_state& st, const event* first, const event* last,
                   const tool_registry& registry, const policy& governance,
                   replay_report& rep) {
  // What the last decision journals and then waits for, not yet matched.
  std::deque<std::string> expected;
  std::set<std::string> returned; ///< children whose answer is the next input
  for (auto* p = first; p != last; ++p) {
    auto& ev = *p;
    ++rep.events;
    // The gateway's attempts arrive while the reply is awaited and leave the
    // awaited reply as it was; the choice each records is made again.
    if (auto* attempt = std::get_if<route_attempt>(&ev.body)) {
      if (!replays(*attempt)) {
        auto again = choose_again(*attempt);
        std::string got = "chose " + std::to_string(attempt->chosen) + " (" + attempt->reason + ")";
        rep.divergence = replay_divergence{
          ev.seq,
          again ? "chose " + (again->index ? std::to_string(*again->index) : std::string{"-1"})
                    + " (" + again->reason + ")"
                : "a strategy and breaker states this build knows",
          got};
        return;
      }
      apply(st, ev);
      continue;
    }
    // A child's end: its delegation_result and the tool_result the run
    // journals with it (the child's answer, shown to the model) are inputs.
    if (auto* r = std::get_if<delegation_result>(&ev.body))
      returned.insert(r->call_id);
    auto* result = std::get_if<tool_result>(&ev.body);
    bool child_answer = result != nullptr && returned.erase(result->call_id) > 0;
    if (is_input(ev) || child_answer || std::holds_alternative<delegation_result>(ev.body)) {
      apply(st, ev);
      expected.clear(); // the run decides again from here
      continue;
    }
    if (expected.empty()) {
      // The same function the run actor called, at the time it journaled.
      auto d = decide_next(st, decision_inputs{registry, governance, ev.ts_us, nullptr});
      for (auto& body : d.journal)
        expected.push_back(describe_decision(event{{}, 0, {}, {}, 0, body}));
      auto after = awaited_input(st, d.effect);
      if (!after.empty())
        expected.push_back(after);
      if (expected.empty())
        expected.push_back("nothing (the run is waiting or over)");
    }
    auto got = describe_decision(ev);
    if (expected.front() != got) {
      rep.divergence = replay_divergence{ev.seq, expected.front(), got};
      return;
    }
    expected.pop_front();
    // The snapshot is what the run folded before writing it. Checkpoints
    // journaled before snapshots were a struct carry none: nothing to check.
    if (auto* cp = std::get_if<checkpoint>(&ev.body); cp != nullptr && cp->snapshot) {
      if (auto m = compare(snapshot_of(st), *cp->snapshot)) {
        rep.divergence = replay_divergence{ev.seq, "snapshot " + m->field + "=" + m->folded,
                                           "snapshot " + m->field + "=" + m->journaled};
        return;
      }
      ++rep.snapshots;
    }
    apply(st, ev);
  }
}

} // namespace

replay_report replay_run(const std::vector<event>& events,
                         const tool_registry& registry, const policy& governance) {
  replay_report rep;
  if (events.empty())
    return rep;
  ++rep.events;
  if (!std::holds_alternative<run_start>(events.front().body)) {
    rep.divergence =
      replay_divergence{events.front().seq, "run_start", describe_decision(events.front())};
    return rep;
  }
  run_state st;
  apply(st, events.front());
  auto* first = events.data();
  replay_events(st, first + 1, first + events.size(), registry, governance, rep);
  // A run still in flight replays identically up to where it got.
  return rep;
}

replay_report replay_from_checkpoint(const rebuilt_run& run, const tool_registry& registry,
                                     const policy& governance) {
  if (!run.checkpoint)
    return replay_run(run.tail, registry, governance);
  replay_report rep;
  rep.from_seq = run.checkpoint->seq;
  auto st = run.state;
  auto* first = run.tail.data();
  replay_events(st, first, first + run.tail.size(), registry, governance, rep);
  return rep;
}

} // namespace troupe
