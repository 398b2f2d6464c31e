// RunSnapshot and ApprovalRequest <-> plain structs (see
// schemas/detail/snapshot_codec.hpp).

#include "schemas/detail/snapshot_codec.hpp"

#include "schemas/detail/capnp_helpers.hpp"
#include "schemas/detail/delegation_codec.hpp"

namespace troupe::detail {

using namespace troupe::schema;

void put(ApprovalRequest::Builder b, const approval_request& x) {
  b.setCallId(text(x.call_id));
  b.setTool(text(x.tool));
  b.setArgsJson(text(x.args_json));
  b.setRule(text(x.rule));
  b.setDeadlineUs(x.deadline_us);
}

// Empty texts and lists stay unset (null): most snapshots have no recovery
// reason, no approvals and no decided calls, and a null pointer costs nothing
// beyond its slot (an empty text would cost a word). They read back as empty;
// a decided call's arguments are set only when normalized (never empty).
void put(RunSnapshot::Builder b, const run_snapshot& x) {
  b.setPhase(static_cast<RunPhase>(x.phase));
  b.setMode(static_cast<TurnMode>(x.mode));
  b.setNextMode(static_cast<TurnMode>(x.next_mode));
  b.setLastTsUs(x.last_ts_us);
  if (!x.calls.empty()) {
    auto calls = b.initCalls(x.calls.size());
    for (unsigned i = 0; i < x.calls.size(); ++i) {
      calls[i].setStatus(static_cast<CallStatus>(x.calls[i].status));
      calls[i].setCount(x.calls[i].count);
    }
  }
  if (!x.decided.empty()) {
    auto decided = b.initDecidedCalls(x.decided.size());
    for (unsigned i = 0; i < x.decided.size(); ++i) {
      auto& d = x.decided[i];
      auto c = decided[i];
      c.setIndex(d.index);
      if (!d.rule.empty())
        c.setRule(text(d.rule));
      if (!d.grants.secrets.empty()) {
        auto secrets = c.initSecrets(d.grants.secrets.size());
        for (unsigned k = 0; k < d.grants.secrets.size(); ++k)
          secrets.set(k, text(d.grants.secrets[k]));
      }
      c.setNetwork(d.grants.network);
      c.setUnsandboxed(d.grants.unsandboxed);
      c.setApprovalTimeoutMs(d.grants.approval_timeout_ms);
      if (d.args_json)
        c.setArgsJson(text(*d.args_json));
    }
  }
  b.setReplyHadCalls(x.reply_had_calls);
  b.setReplyFailed(x.reply_failed);
  b.setTurnHadParseFailure(x.turn_had_parse_failure);
  b.setCancelRequested(x.cancel_requested);
  b.setConsecutiveErrors(x.consecutive_errors);
  b.setConsecutiveProviderFailures(x.consecutive_provider_failures);
  if (!x.recovery_reason.empty())
    b.setRecoveryReason(text(x.recovery_reason));
  if (!x.out_of_scope.empty())
    b.setOutOfScope(text(x.out_of_scope));
  if (x.complete_call) {
    auto c = b.initCompleteCall();
    c.setStatus(text(x.complete_call->first));
    c.setAnswer(text(x.complete_call->second));
  }
  if (!x.pending_approvals.empty()) {
    auto pending = b.initPendingApprovals(x.pending_approvals.size());
    for (unsigned i = 0; i < x.pending_approvals.size(); ++i)
      put(pending[i], x.pending_approvals[i]);
  }
  b.setMessages(x.messages);
  if (!x.children.empty()) {
    auto children = b.initChildren(x.children.size());
    for (unsigned i = 0; i < x.children.size(); ++i)
      put(children[i], x.children[i]);
  }
  b.setChildrenStarted(x.children_started);
  b.setVerificationAttempts(x.verification_attempts);
  b.setVerified(x.verified);
}

approval_request get(ApprovalRequest::Reader b) {
  return approval_request{str(b.getCallId()), str(b.getTool()), str(b.getArgsJson()),
                          str(b.getRule()), b.getDeadlineUs()};
}

bool get(RunSnapshot::Reader r, run_snapshot& x) {
  if (!in_range(r.getPhase(), RunPhase::FINISHED) || !in_range(r.getMode(), TurnMode::FIX)
      || !in_range(r.getNextMode(), TurnMode::FIX))
    return false;
  x.phase = static_cast<run_phase>(r.getPhase());
  x.mode = static_cast<turn_mode>(r.getMode());
  x.next_mode = static_cast<turn_mode>(r.getNextMode());
  x.last_ts_us = r.getLastTsUs();
  for (auto c : backed(r.getCalls(), "calls")) {
    if (!in_range(c.getStatus(), CallStatus::DONE))
      return false;
    x.calls.push_back({static_cast<call_status>(c.getStatus()), c.getCount()});
  }
  for (auto c : backed(r.getDecidedCalls(), "decided_calls")) {
    decided_call d;
    d.index = c.getIndex();
    d.rule = str(c.getRule());
    for (auto secret : c.getSecrets())
      d.grants.secrets.push_back(str(secret));
    d.grants.network = c.getNetwork();
    d.grants.unsandboxed = c.getUnsandboxed();
    d.grants.approval_timeout_ms = c.getApprovalTimeoutMs();
    if (c.hasArgsJson())
      d.args_json = str(c.getArgsJson());
    x.decided.push_back(std::move(d));
  }
  x.reply_had_calls = r.getReplyHadCalls();
  x.reply_failed = r.getReplyFailed();
  x.turn_had_parse_failure = r.getTurnHadParseFailure();
  x.cancel_requested = r.getCancelRequested();
  x.consecutive_errors = r.getConsecutiveErrors();
  x.consecutive_provider_failures = r.getConsecutiveProviderFailures();
  x.recovery_reason = str(r.getRecoveryReason());
  x.out_of_scope = str(r.getOutOfScope());
  if (r.hasCompleteCall())
    x.complete_call.emplace(str(r.getCompleteCall().getStatus()),
                            str(r.getCompleteCall().getAnswer()));
  for (auto a : backed(r.getPendingApprovals(), "pending_approvals"))
    x.pending_approvals.push_back(get(a));
  x.messages = r.getMessages();
  for (auto c : backed(r.getChildren(), "children"))
    x.children.push_back(get(c));
  x.children_started = r.getChildrenStarted();
  x.verification_attempts = r.getVerificationAttempts();
  x.verified = r.getVerified();
  return true;
}

} // namespace troupe::detail
