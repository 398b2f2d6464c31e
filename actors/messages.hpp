#pragma once
// CAF inspection for the plain structs that travel between troupe's actors
// (model requests and replies, tool requests and outcomes). Journal events
// travel as Cap'n Proto bytes (`event_bytes`) and need nothing here.

#include <string>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "core/model_provider.hpp"
#include "core/tool.hpp"

namespace troupe {

using complete_atom = caf::atom_constant<caf::atom("complete")>;
using execute_atom = caf::atom_constant<caf::atom("execute")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using approval_atom = caf::atom_constant<caf::atom("approval")>;

/// A pending `ask`: what the approver sees, and when it fails closed.
struct approval_ticket {
  std::string run_id;
  approval_request request;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, approval_request& x) {
  return f(caf::meta::type_name("approval_request"), x.call_id, x.tool, x.args_json,
           x.rule, x.deadline_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, approval_decision& x) {
  return f(caf::meta::type_name("approval_decision"), x.call_id, x.approved, x.by,
           x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, approval_ticket& x) {
  return f(caf::meta::type_name("approval_ticket"), x.run_id, x.request);
}

/// A tool call whose intent is durable, handed to a tool worker.
struct tool_request {
  std::string run_id;
  std::string call_id;
  std::string name;
  std::string args_json; ///< normalized by the envelope
  std::string workspace_root;
  std::vector<std::string> granted_secrets; ///< names only, from the policy
  bool network = false;
  bool unsandboxed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_call_ref& x) {
  return f(caf::meta::type_name("tool_call_ref"), x.call_id, x.name,
           x.args_json);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, usage& x) {
  return f(caf::meta::type_name("usage"), x.input, x.output);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.role, x.content,
           x.tool_calls, x.tool_call_id, x.tool_error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_spec& x) {
  return f(caf::meta::type_name("tool_spec"), x.name, x.description,
           x.parameters_json);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_call& x) {
  return f(caf::meta::type_name("model_call"), x.run_id, x.agent, x.model,
           x.turn, x.request_index, x.messages, x.tools);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_response& x) {
  return f(caf::meta::type_name("model_response"), x.text, x.tool_calls, x.tokens, x.failure,
           x.failure_detail, x.retry_after_ms, x.finish_reason, x.endpoint, x.model,
           x.latency_us, x.first_token_us, x.cost_micro_usd, x.attempts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route_candidate_record& x) {
  return f(caf::meta::type_name("route_candidate_record"), x.endpoint, x.model, x.breaker,
           x.probing, x.open_until_us, x.score, x.latency_ms, x.error_rate,
           x.input_micro_usd_per_mtok, x.output_micro_usd_per_mtok, x.quality, x.full);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route_attempt& x) {
  return f(caf::meta::type_name("route_attempt"), x.turn, x.attempt, x.route, x.strategy,
           x.tier, x.tier_reason, x.candidates, x.excluded, x.chosen, x.reason, x.hedge,
           x.outcome, x.latency_us, x.backoff_us, x.jitter);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_request& x) {
  return f(caf::meta::type_name("tool_request"), x.run_id, x.call_id, x.name,
           x.args_json, x.workspace_root, x.granted_secrets, x.network, x.unsandboxed);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_outcome& x) {
  return f(caf::meta::type_name("tool_outcome"), x.ok, x.output, x.retryable);
}

} // namespace troupe
