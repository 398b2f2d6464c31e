// Limits, KPIs and the delegation events <-> plain structs (see
// schemas/detail/delegation_codec.hpp).

#include "schemas/detail/delegation_codec.hpp"

#include "schemas/detail/capnp_helpers.hpp"
#include "schemas/detail/team_codec.hpp"

namespace troupe::detail {

using namespace troupe::schema;

void put(Limits::Builder b, const limits_record& x) {
  b.setMaxTurns(x.max_turns);
  b.setMaxToolCalls(x.max_tool_calls);
  b.setMaxTokens(x.max_tokens);
  b.setDeadlineMs(x.deadline_ms);
  b.setMaxConsecutiveErrors(x.max_consecutive_errors);
  b.setMaxParseFailures(x.max_parse_failures);
  b.setMaxCostMicroUsd(x.max_cost_micro_usd);
  b.setMaxDepth(x.max_depth);
  b.setMaxChildren(x.max_children);
  b.setMaxDescendants(x.max_descendants);
}

limits_record get(Limits::Reader r) {
  limits_record x;
  x.max_turns = r.getMaxTurns();
  x.max_tool_calls = r.getMaxToolCalls();
  x.max_tokens = r.getMaxTokens();
  x.deadline_ms = r.getDeadlineMs();
  x.max_consecutive_errors = r.getMaxConsecutiveErrors();
  x.max_parse_failures = r.getMaxParseFailures();
  x.max_cost_micro_usd = r.getMaxCostMicroUsd();
  x.max_depth = r.getMaxDepth();
  x.max_children = r.getMaxChildren();
  x.max_descendants = r.getMaxDescendants();
  return x;
}

void put(Kpis::Builder b, const kpis& k) {
  b.setTurns(k.turns);
  b.setToolCalls(k.tool_calls);
  b.setModelCalls(k.model_calls);
  b.setParseFailures(k.parse_failures);
  b.setRetries(k.retries);
  b.setInputTokens(k.input_tokens);
  b.setOutputTokens(k.output_tokens);
  b.setWallMs(k.wall_ms);
  b.setToolErrors(k.tool_errors);
  b.setModelErrors(k.model_errors);
  b.setDenials(k.denials);
  b.setCostMicroUsd(k.cost_micro_usd);
  b.setDescendantRuns(k.descendant_runs);
  b.setDescendantTurns(k.descendant_turns);
  b.setDescendantToolCalls(k.descendant_tool_calls);
  b.setDescendantTokens(k.descendant_tokens);
  b.setDescendantCostMicroUsd(k.descendant_cost_micro_usd);
}

kpis get(Kpis::Reader r) {
  kpis k;
  k.turns = r.getTurns();
  k.tool_calls = r.getToolCalls();
  k.model_calls = r.getModelCalls();
  k.parse_failures = r.getParseFailures();
  k.retries = r.getRetries();
  k.input_tokens = r.getInputTokens();
  k.output_tokens = r.getOutputTokens();
  k.wall_ms = r.getWallMs();
  k.tool_errors = r.getToolErrors();
  k.model_errors = r.getModelErrors();
  k.denials = r.getDenials();
  k.cost_micro_usd = r.getCostMicroUsd();
  k.descendant_runs = r.getDescendantRuns();
  k.descendant_turns = r.getDescendantTurns();
  k.descendant_tool_calls = r.getDescendantToolCalls();
  k.descendant_tokens = r.getDescendantTokens();
  k.descendant_cost_micro_usd = r.getDescendantCostMicroUsd();
  return k;
}

void put(Delegation::Builder b, const delegation& x) {
  b.setCallId(text(x.call_id));
  b.setChildRunId(text(x.child_run_id));
  b.setAgent(text(x.agent));
  b.setTask(text(x.task));
  put(b.initLimits(), x.limits);
  b.setDepth(x.depth);
  if (!x.output_schema.empty())
    b.setOutputSchema(text(x.output_schema));
  if (!x.checks.empty())
    put(b.initChecks(static_cast<unsigned>(x.checks.size())), x.checks);
  b.setMaxFixAttempts(x.max_fix_attempts);
  if (!x.role.empty())
    b.setRole(text(x.role));
  if (!x.phase.empty())
    b.setPhase(text(x.phase));
  if (!x.artifact.empty())
    b.setArtifact(text(x.artifact));
}

delegation get(Delegation::Reader r) {
  delegation d{str(r.getCallId()), str(r.getChildRunId()), str(r.getAgent()),
               str(r.getTask()),   get(r.getLimits()),      r.getDepth(),
               str(r.getOutputSchema())};
  d.checks = get(r.getChecks());
  d.max_fix_attempts = r.getMaxFixAttempts();
  d.role = str(r.getRole());
  d.phase = str(r.getPhase());
  d.artifact = str(r.getArtifact());
  return d;
}

void put(DelegationResult::Builder b, const delegation_result& x) {
  b.setCallId(text(x.call_id));
  b.setChildRunId(text(x.child_run_id));
  b.setStatus(static_cast<RunStatus>(x.status));
  b.setAnswer(text(x.answer));
  b.setSummary(text(x.summary));
  b.setReason(text(x.reason));
  put(b.initKpis(), x.totals);
  b.setVerificationAttempts(x.verification_attempts);
  if (!x.artifacts.empty()) {
    auto list = b.initArtifacts(static_cast<unsigned>(x.artifacts.size()));
    for (unsigned i = 0; i < x.artifacts.size(); ++i)
      put(list[i], x.artifacts[i]);
  }
}

bool get(DelegationResult::Reader r, delegation_result& out) {
  if (!in_range(r.getStatus(), RunStatus::CANCELED))
    return false;
  out = delegation_result{str(r.getCallId()), str(r.getChildRunId()),
                          static_cast<run_status>(r.getStatus()),
                          str(r.getAnswer()), str(r.getSummary()), str(r.getReason()),
                          get(r.getKpis())};
  out.verification_attempts = r.getVerificationAttempts();
  for (auto a : backed(r.getArtifacts(), "artifacts"))
    out.artifacts.push_back(get(a));
  return true;
}

} // namespace troupe::detail
