#include "core/run_decisions.hpp"

#include <algorithm>

#include "core/delegation.hpp"
#include "core/envelope.hpp"
#include "core/team.hpp"
#include "core/verification.hpp"
#include "core/run_snapshot.hpp"
#include "core/saturating_time.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

decision journal(event_body body, durability wait = durability::accepted,
                 run_effect then = go_on{}) {
  decision d;
  d.journal.push_back(std::move(body));
  d.wait = wait;
  d.effect = std::move(then);
  return d;
}

bool is_pure(const tool_registry& reg, const std::string& name) {
  auto* def = reg.find(name);
  return def != nullptr && def->effect == tool_effect::pure;
}

// Write-ahead, only where the world needs it (docs/journal-format.md,
// "Durability"). An unsafe or idempotent call's intent is committed before
// the tool runs: after a crash, resume must know the effect may have
// happened (unsafe: never run again) or repeat it with the same call id and
// arguments (idempotent: a model asked again could ask differently). A pure
// call simply runs again if a crash loses its intent. `complete` acts nowhere
// (its completion is durable), and a delegation acts only through its child,
// whose events follow the parent's into the same journal (one writer, in
// order): the child's first durable append commits the parent's intent too.
durability intent_durability(const tool_registry& reg, const std::string& name) {
  if (name == complete_tool || name == delegate_tool || is_pure(reg, name))
    return durability::accepted;
  return durability::durable;
}

call_grants grants_of(const policy_verdict& v) {
  return {v.secrets, v.network, v.unsandboxed, v.approval_timeout_ms};
}

approval_request approval_for(const tool_call_ref& call, std::string normalized_args,
                              const std::string& rule, const call_grants& grants,
                              int64_t now_us) {
  return {call.call_id, call.name, std::move(normalized_args), rule,
          add_us(now_us, ms_to_us(grants.approval_timeout_ms))};
}

// Envelope, scope boundary, policy. The arguments are parsed here once; what
// travels on (tool_call, approval_request, the tool) is their normalized text.
decision vet(const run_state& st, const vet_call_step& step, const decision_inputs& in) {
  auto& slot = st.calls[step.index];
  auto& call = slot.call;
  if (!step.refusal.empty())
    return journal(error_event{error_kind::refused, step.refusal, call.call_id});
  auto intent = intent_durability(in.registry, call.name);
  if (step.decided && slot.args_normalized)
    return journal(tool_call{call.call_id, call.name, call.args_json}, intent);
  auto args = prepare_call(in.registry, call.name, call.args_json);
  if (!args)
    return journal(parse_failure{call.call_id, call.name, call.args_json,
                                 render(args.error())});
  auto normalized = args->dump();
  // An allowed call whose tool_call a crash lost: its decision is journaled.
  if (step.decided)
    return journal(tool_call{call.call_id, call.name, normalized}, intent);
  if (call.name == delegate_tool) {
    auto refusal = delegation_refusal(st, *args, in.now_us);
    if (!refusal.empty())
      return journal(error_event{error_kind::refused, refusal, call.call_id});
  }
  auto memo = scope_violation(call.name, is_pure(in.registry, call.name), *args, st.workspace);
  if (!memo.empty())
    return journal(error_event{error_kind::out_of_scope,
                               memo + " (call " + call.call_id + ")", call.call_id});
  auto verdict = decide(in.governance,
                        call_context{call.name, *args, st.agent, "", st.tenant});
  decision d;
  policy_decision pd{call.call_id, verdict.decision, verdict.rule_id,
                     verdict.policy_version, verdict.reason, {}};
  if (verdict.decision != decision_kind::deny)
    pd.grants = grants_of(verdict);
  d.journal.push_back(pd);
  if (verdict.decision == decision_kind::allow) {
    d.journal.push_back(tool_call{call.call_id, call.name, normalized});
    d.wait = intent;
    // `complete` runs nowhere: its result is journaled by the next decision;
    // a delegation's next decision journals its child.
    if (call.name == complete_tool || call.name == delegate_tool)
      d.effect = go_on{};
    else
      d.effect = run_tool{{call.call_id, call.name, normalized}, pd.grants};
  } else if (verdict.decision == decision_kind::ask) {
    // A person is asked (the approvals table shows the request): the run's
    // record of asking is durable first.
    auto req = approval_for(call, normalized, verdict.rule_id, pd.grants, in.now_us);
    d.journal.push_back(req);
    d.wait = durability::durable;
    d.effect = await_approval{std::move(req)};
  }
  return d;
}

// The policy said ask and a restart lost the approval_request journaled with
// that decision: ask again, from the journaled decision.
decision request_approval(const run_state& st, const request_approval_step& step,
                          const decision_inputs& in) {
  auto& slot = st.calls[step.index];
  auto& call = slot.call;
  auto args = prepare_call(in.registry, call.name, call.args_json);
  if (!args) // it passed the envelope when it was decided; stay total anyway
    return journal(parse_failure{call.call_id, call.name, call.args_json,
                                 render(args.error())});
  auto req = approval_for(call, args->dump(), slot.rule, slot.grants, in.now_us);
  return journal(req, durability::durable, await_approval{req});
}

decision execute(const run_state& st, const execute_call_step& step,
                 const decision_inputs& in) {
  auto& slot = st.calls[step.index];
  auto& call = slot.call;
  if (call.name == complete_tool)
    return journal(tool_result{call.call_id, call.name, true, "run completed"});
  if (call.name == delegate_tool) {
    // Its child ended and a crash lost the answer journaled with its end:
    // the answer, not a second child.
    if (slot.child_answer)
      return journal(*slot.child_answer);
    // Its child is not journaled yet (after a crash, too: a journaled one is
    // running and found again by the run).
    if (st.cancel_requested)
      return journal(tool_result{call.call_id, call.name, false,
                                 "delegate: the run was canceled before the child started"});
    std::string why;
    auto child = plan_delegation(st, call, in.now_us, &why);
    if (!child)
      return journal(tool_result{call.call_id, call.name, false, "delegate: " + why});
    return journal(*child, durability::accepted, start_child{*child});
  }
  bool recovered = in.recovered != nullptr && in.recovered->count(call.call_id) > 0;
  auto* def = in.registry.find(call.name);
  if (recovered && (def == nullptr || def->effect == tool_effect::unsafe)) {
    // The intent is durable, the result is not: the side effect may or may
    // not have happened, and running it again could repeat it.
    auto why = "the outcome of " + call.name + " call " + call.call_id
               + " is unknown: the run stopped after its intent was "
                 "journaled and before its result; it was not run again "
                 "because the tool is not idempotent";
    decision d;
    d.journal.push_back(error_event{error_kind::uncertain, why, ""});
    d.journal.push_back(tool_result{call.call_id, call.name, false, why});
    return d;
  }
  decision d;
  d.effect = run_tool{call, slot.grants};
  return d;
}

} // namespace

checkpoint checkpoint_of(const run_state& st) {
  return checkpoint{st.turn, st.totals, {}, snapshot_of(st)};
}

decision decide_next(const run_state& st, const decision_inputs& in) {
  if (!st.team.empty())
    return decide_team(st, in);
  if (st.phase == run_phase::awaiting_reply) {
    // The request is journaled and its reply is not (a restart in between):
    // the request is sent again, not journaled again.
    decision d;
    d.effect = ask_model{st.mode == turn_mode::recovery
                           ? std::vector<std::string>{std::string(complete_tool)}
                           : st.tools};
    return d;
  }
  auto step = next_step(st);
  return std::visit(
    [&](auto& x) -> decision {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, start_turn_step>) {
        return journal(turn_start{x.turn, x.mode});
      } else if constexpr (std::is_same_v<T, ask_model_step>) {
        return journal(model_request{x.turn, st.model, x.tools,
                                     static_cast<uint32_t>(st.chat.conversation.size())},
                       durability::accepted, ask_model{x.tools});
      } else if constexpr (std::is_same_v<T, vet_call_step>) {
        return vet(st, x, in);
      } else if constexpr (std::is_same_v<T, request_approval_step>) {
        return request_approval(st, x, in);
      } else if constexpr (std::is_same_v<T, execute_call_step>) {
        return execute(st, x, in);
      } else if constexpr (std::is_same_v<T, checkpoint_step>) {
        return journal(checkpoint_of(st));
      } else if constexpr (std::is_same_v<T, end_turn_step>) {
        return journal(turn_end{x.turn});
      } else if constexpr (std::is_same_v<T, recover_step>) {
        return journal(recovery{x.reason, x.detail});
      } else if constexpr (std::is_same_v<T, verify_step>) {
        auto request = verify_request(st.verification, in.governance, st.agent, st.tenant);
        return decision{{}, durability::accepted, run_checks{x.attempt, request.dump()}};
      } else if constexpr (std::is_same_v<T, record_artifact_step>) {
        return journal(*artifact_of(*st.last_verification, st.artifact, st.role, st.role_phase));
      } else if constexpr (std::is_same_v<T, finish_step>) {
        return journal(x.outcome, durability::durable, stop{});
      } else {
        // Waiting for a person whose request is journaled (after a restart).
        if (!st.pending_approvals.empty())
          return decision{{}, durability::accepted, await_approval{st.pending_approvals.front()}};
        return decision{{}, durability::accepted, idle{}};
      }
    },
    step);
}

std::optional<retry> plan_retry(const std::string& call_id, uint32_t attempt,
                                bool retryable, double jitter, const retry_policy& p,
                                std::string reason) {
  if (!retryable || attempt >= p.max_attempts)
    return std::nullopt;
  auto base = static_cast<double>(p.base_delay.count())
              * static_cast<double>(uint64_t{1} << std::min<uint32_t>(attempt - 1, 62));
  auto delay = std::min<double>(base * (0.5 + jitter),
                                static_cast<double>(p.max_delay.count()));
  return retry{call_id, attempt, static_cast<uint64_t>(delay), jitter, std::move(reason)};
}

} // namespace troupe
