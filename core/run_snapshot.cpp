#include "core/run_snapshot.hpp"

#include <algorithm>

#include "core/runtime_errc.hpp"

namespace troupe {

namespace {

// What a call holds beyond its reply (rule, grants, normalized arguments)
// is journaled from its policy decision until it is done: a pending call has
// none yet, and nothing reads a finished call's again.
bool decided(call_status s) {
  return s != call_status::pending && s != call_status::done;
}

caf::error bad_snapshot(const event& cp, const std::string& why) {
  return caf::make_error(runtime_errc::bad_snapshot,
                         "run " + cp.run_id + ": the checkpoint at seq "
                           + std::to_string(cp.seq) + " cannot restore the run: " + why);
}

// The calls the fold holds at the checkpoint: those of the last reply when it
// succeeded (a turn has one reply; a failed one adds no calls).
const std::vector<tool_call_ref>* reply_calls(const event* reply) {
  auto* r = reply != nullptr ? std::get_if<model_reply>(&reply->body) : nullptr;
  return r != nullptr && r->failure.empty() ? &r->tool_calls : nullptr;
}

} // namespace

run_snapshot snapshot_of(const run_state& st) {
  run_snapshot s;
  s.phase = st.phase;
  s.mode = st.mode;
  s.next_mode = st.next_mode;
  s.last_ts_us = st.last_ts_us;
  for (uint32_t i = 0; i < st.calls.size(); ++i) {
    auto status = st.calls[i].status;
    if (!s.calls.empty() && s.calls.back().status == status)
      ++s.calls.back().count;
    else
      s.calls.push_back({status, 1});
    if (decided(status)) {
      auto& slot = st.calls[i];
      s.decided.push_back({i, slot.rule, slot.grants,
                           slot.args_normalized ? std::optional<std::string>{slot.call.args_json}
                                                : std::nullopt});
    }
  }
  s.reply_had_calls = st.reply_had_calls;
  s.reply_failed = st.reply_failed;
  s.turn_had_parse_failure = st.turn_had_parse_failure;
  s.cancel_requested = st.cancel_requested;
  s.consecutive_errors = st.consecutive_errors;
  s.consecutive_provider_failures = st.consecutive_provider_failures;
  s.recovery_reason = st.recovery_reason;
  s.out_of_scope = st.out_of_scope;
  s.complete_call = st.complete_call;
  s.pending_approvals = st.pending_approvals;
  s.messages = static_cast<uint32_t>(st.chat.conversation.size());
  s.children = st.children;
  s.children_started = st.children_started;
  s.verification_attempts = st.verification_attempts;
  s.verified = st.verified;
  return s;
}

caf::error check_restorable(const event& start, const event* reply, const event& cp,
                            std::optional<size_t> messages) {
  if (!std::holds_alternative<run_start>(start.body))
    return bad_snapshot(cp, "the run's first event is not run_start");
  auto* body = std::get_if<checkpoint>(&cp.body);
  if (body == nullptr)
    return bad_snapshot(cp, "it is a " + std::string(to_string(cp.kind())) + " event");
  if (!body->snapshot)
    return bad_snapshot(cp, "it has no snapshot this build reads (journaled before snapshots "
                            "were a struct, or by a newer troupe)");
  auto& snap = *body->snapshot;
  if (snap.phase == run_phase::created || snap.phase == run_phase::finished)
    return bad_snapshot(cp, "its snapshot's phase is " + std::string(to_string(snap.phase))
                              + "; a run resumes between run_start and completion");
  if (reply != nullptr && !std::holds_alternative<model_reply>(reply->body))
    return bad_snapshot(cp, "seq " + std::to_string(reply->seq) + " is not a model_reply");
  uint64_t named = 0;
  for (auto& run : snap.calls)
    named += run.count;
  if (named != 0) {
    auto* calls = reply_calls(reply);
    if (calls == nullptr || calls->size() != named)
      return bad_snapshot(cp, "its snapshot tracks " + std::to_string(named)
                                + " calls but the last model_reply before it has "
                                + std::to_string(calls != nullptr ? calls->size() : 0));
  }
  for (auto& d : snap.decided)
    if (d.index >= named)
      return bad_snapshot(cp, "its snapshot has a decision for call " + std::to_string(d.index)
                                + " of " + std::to_string(named));
  if (messages && *messages != snap.messages)
    return bad_snapshot(cp, "its snapshot counts " + std::to_string(snap.messages)
                              + " messages but the events up to it give "
                              + std::to_string(*messages));
  return caf::none;
}

caf::expected<run_state> restore(const event& start, const event* reply, const event& cp,
                                 std::optional<transcript> chat) {
  auto messages = chat ? std::optional<size_t>{chat->conversation.size()} : std::nullopt;
  if (auto err = check_restorable(start, reply, cp, messages))
    return err;
  auto& body = std::get<checkpoint>(cp.body);
  auto& snap = *body.snapshot;
  run_state st;
  apply(st, start); // identity; its messages are replaced by `chat` below
  st.phase = snap.phase;
  st.turn = body.turn;
  st.mode = snap.mode;
  st.next_mode = snap.next_mode;
  st.last_ts_us = snap.last_ts_us;
  if (!snap.calls.empty()) {
    auto& calls = *reply_calls(reply);
    size_t next = 0;
    for (auto& run : snap.calls)
      for (uint32_t k = 0; k < run.count; ++k, ++next)
        st.calls.push_back({calls[next], run.status});
    for (auto& d : snap.decided) {
      auto& slot = st.calls[d.index];
      slot.rule = d.rule;
      slot.grants = d.grants;
      if (d.args_json) {
        slot.call.args_json = *d.args_json;
        slot.args_normalized = true;
      }
    }
  }
  st.reply_had_calls = snap.reply_had_calls;
  st.reply_failed = snap.reply_failed;
  st.turn_had_parse_failure = snap.turn_had_parse_failure;
  st.cancel_requested = snap.cancel_requested;
  st.consecutive_errors = snap.consecutive_errors;
  st.consecutive_provider_failures = snap.consecutive_provider_failures;
  st.recovery_reason = snap.recovery_reason;
  st.out_of_scope = snap.out_of_scope;
  st.complete_call = snap.complete_call;
  st.pending_approvals = snap.pending_approvals;
  st.children = snap.children;
  st.children_started = snap.children_started;
  st.verification_attempts = snap.verification_attempts;
  st.verified = snap.verified;
  for (auto& child : st.children)
    for (auto& slot : st.calls)
      if (slot.call.call_id == child.call_id)
        slot.child_running = true;
  st.totals = body.totals; // KPIs travel in the checkpoint itself
  st.chat = chat ? std::move(*chat) : transcript{};
  apply(st, cp); // the checkpoint's own timestamp moves the run's clock
  return st;
}

// -- comparing -----------------------------------------------------------------

namespace {

std::string show(const std::string& x) {
  return "\"" + x + "\"";
}
std::string show(bool x) {
  return x ? "true" : "false";
}
template <class Int, class = std::enable_if_t<std::is_integral_v<Int>>>
std::string show(Int x) {
  return std::to_string(x);
}
std::string show(run_phase x) {
  return std::string(to_string(x));
}
std::string show(turn_mode x) {
  return std::string(to_string(x));
}
std::string show(const std::vector<call_run>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + std::string(to_string(x.status)) + "x"
           + std::to_string(x.count);
  return "[" + out + "]";
}
std::string show(const std::vector<decided_call>& xs) {
  std::string out;
  for (auto& x : xs) {
    std::string secrets;
    for (auto& name : x.grants.secrets)
      secrets += (secrets.empty() ? "" : "+") + name;
    out += (out.empty() ? "" : ",") + std::to_string(x.index) + " rule=" + x.rule
           + " secrets=" + secrets + " network=" + show(x.grants.network)
           + " unsandboxed=" + show(x.grants.unsandboxed)
           + " approval_timeout_ms=" + std::to_string(x.grants.approval_timeout_ms)
           + " args=" + x.args_json.value_or("(the reply's)");
  }
  return "[" + out + "]";
}
std::string show(const std::optional<std::pair<std::string, std::string>>& x) {
  return x ? "(" + x->first + ", " + show(x->second) + ")" : "none";
}
std::string show(const std::vector<approval_request>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x.call_id + " " + x.tool + " rule=" + x.rule
           + " until=" + std::to_string(x.deadline_us);
  return "[" + out + "]";
}

std::string show(const std::vector<delegation>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x.call_id + "->" + x.child_run_id + " " + x.agent
           + " turns=" + std::to_string(x.limits.max_turns);
  return "[" + out + "]";
}

bool same(const limits_record& a, const limits_record& b) {
  return a.max_turns == b.max_turns && a.max_tool_calls == b.max_tool_calls
         && a.max_tokens == b.max_tokens && a.deadline_ms == b.deadline_ms
         && a.max_consecutive_errors == b.max_consecutive_errors
         && a.max_parse_failures == b.max_parse_failures
         && a.max_cost_micro_usd == b.max_cost_micro_usd && a.max_depth == b.max_depth
         && a.max_children == b.max_children && a.max_descendants == b.max_descendants;
}
bool same(const delegation& a, const delegation& b) {
  return a.call_id == b.call_id && a.child_run_id == b.child_run_id && a.agent == b.agent
         && a.task == b.task && same(a.limits, b.limits) && a.depth == b.depth
         && a.output_schema == b.output_schema;
}
bool same(const call_run& a, const call_run& b) {
  return a.status == b.status && a.count == b.count;
}
bool same(const decided_call& a, const decided_call& b) {
  return a.index == b.index && a.rule == b.rule && a.grants.secrets == b.grants.secrets
         && a.grants.network == b.grants.network && a.grants.unsandboxed == b.grants.unsandboxed
         && a.grants.approval_timeout_ms == b.grants.approval_timeout_ms
         && a.args_json == b.args_json;
}
bool same(const approval_request& a, const approval_request& b) {
  return a.call_id == b.call_id && a.tool == b.tool && a.args_json == b.args_json
         && a.rule == b.rule && a.deadline_us == b.deadline_us;
}
template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const T& x, const T& y) { return same(x, y); });
}
template <class T>
bool same(const T& a, const T& b) {
  return a == b;
}

// Calls `f(name, a.field, b.field)` for every field of a snapshot, in the
// schema's order, until `f` returns false.
template <class F>
void for_each_field(const run_snapshot& a, const run_snapshot& b, F&& f) {
  f("phase", a.phase, b.phase) && f("mode", a.mode, b.mode)
    && f("next_mode", a.next_mode, b.next_mode) && f("last_ts_us", a.last_ts_us, b.last_ts_us)
    && f("calls", a.calls, b.calls) && f("decided_calls", a.decided, b.decided)
    && f("reply_had_calls", a.reply_had_calls, b.reply_had_calls)
    && f("reply_failed", a.reply_failed, b.reply_failed)
    && f("turn_had_parse_failure", a.turn_had_parse_failure, b.turn_had_parse_failure)
    && f("cancel_requested", a.cancel_requested, b.cancel_requested)
    && f("consecutive_errors", a.consecutive_errors, b.consecutive_errors)
    && f("consecutive_provider_failures", a.consecutive_provider_failures,
         b.consecutive_provider_failures)
    && f("recovery_reason", a.recovery_reason, b.recovery_reason)
    && f("out_of_scope", a.out_of_scope, b.out_of_scope)
    && f("complete_call", a.complete_call, b.complete_call)
    && f("pending_approvals", a.pending_approvals, b.pending_approvals)
    && f("messages", a.messages, b.messages) && f("children", a.children, b.children)
    && f("children_started", a.children_started, b.children_started)
    && f("verification_attempts", a.verification_attempts, b.verification_attempts)
    && f("verified", a.verified, b.verified);
}

bool same_kpis(const kpis& a, const kpis& b) {
  return a.turns == b.turns && a.tool_calls == b.tool_calls
         && a.model_calls == b.model_calls && a.parse_failures == b.parse_failures
         && a.retries == b.retries && a.input_tokens == b.input_tokens
         && a.output_tokens == b.output_tokens && a.wall_ms == b.wall_ms
         && a.tool_errors == b.tool_errors && a.model_errors == b.model_errors
         && a.denials == b.denials && a.cost_micro_usd == b.cost_micro_usd
         && a.descendant_runs == b.descendant_runs && a.descendant_turns == b.descendant_turns
         && a.descendant_tool_calls == b.descendant_tool_calls
         && a.descendant_tokens == b.descendant_tokens
         && a.descendant_cost_micro_usd == b.descendant_cost_micro_usd;
}

bool same_message(const chat_message& a, const chat_message& b) {
  return a.role == b.role && a.content == b.content && a.tool_call_id == b.tool_call_id
         && a.tool_error == b.tool_error
         && std::equal(a.tool_calls.begin(), a.tool_calls.end(), b.tool_calls.begin(),
                       b.tool_calls.end(), [](auto& x, auto& y) {
                         return x.call_id == y.call_id && x.name == y.name
                                && x.args_json == y.args_json;
                       });
}

std::string calls_difference(const std::vector<call_slot>& a, const std::vector<call_slot>& b) {
  if (a.size() != b.size())
    return "calls: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto& x = a[i];
    auto& y = b[i];
    bool live = x.status != call_status::done; // a finished call is not read again
    if (x.status != y.status || x.call.call_id != y.call.call_id || x.call.name != y.call.name
        || (live && (x.call.args_json != y.call.args_json
                     || x.args_normalized != y.args_normalized || x.rule != y.rule
                     || x.grants.secrets != y.grants.secrets
                     || x.grants.network != y.grants.network
                     || x.grants.unsandboxed != y.grants.unsandboxed
                     || x.grants.approval_timeout_ms != y.grants.approval_timeout_ms)))
      return "call " + std::to_string(i) + ": " + x.call.call_id + " " + x.call.name + " "
             + std::string(to_string(x.status)) + " " + x.call.args_json + " vs "
             + y.call.call_id + " " + y.call.name + " " + std::string(to_string(y.status))
             + " " + y.call.args_json;
  }
  return {};
}

std::string transcript_difference(const transcript& a, const transcript& b) {
  if (a.conversation.size() != b.conversation.size())
    return "conversation: " + std::to_string(a.conversation.size()) + " vs "
           + std::to_string(b.conversation.size()) + " messages";
  for (size_t i = 0; i < a.conversation.size(); ++i)
    if (!same_message(a.conversation[i], b.conversation[i]))
      return "conversation message " + std::to_string(i) + ": " + show(a.conversation[i].content)
             + " vs " + show(b.conversation[i].content);
  if (a.recent_results != b.recent_results)
    return "recent tool results differ";
  if (a.verification_log != b.verification_log)
    return "the reports of the task's checks differ";
  if (a.turn_begins != b.turn_begins || a.recovery_reason != b.recovery_reason)
    return "transcript turn start or recovery reason differ";
  return {};
}

} // namespace

std::optional<snapshot_mismatch> compare(const run_snapshot& folded,
                                         const run_snapshot& journaled) {
  std::optional<snapshot_mismatch> out;
  for_each_field(folded, journaled, [&](const char* name, auto& x, auto& y) {
    if (same(x, y))
      return true;
    out = snapshot_mismatch{name, show(x), show(y)};
    return false;
  });
  return out;
}

std::string state_difference(const run_state& a, const run_state& b) {
  if (auto m = compare(snapshot_of(a), snapshot_of(b)))
    return m->field + ": " + m->folded + " vs " + m->journaled;
  if (a.turn != b.turn)
    return "turn: " + std::to_string(a.turn) + " vs " + std::to_string(b.turn);
  if (!same_kpis(a.totals, b.totals))
    return "KPIs differ";
  if (a.run_id != b.run_id || a.agent != b.agent || a.tenant != b.tenant
      || a.model != b.model || a.tools != b.tools || a.started_us != b.started_us
      || a.checkpoint_per_turn != b.checkpoint_per_turn)
    return "identity (run_start) differs";
  if (a.outcome.has_value() != b.outcome.has_value())
    return "outcome: one has a completion, the other not";
  if (a.checkpoint_due != b.checkpoint_due)
    return "a checkpoint is due in one, not in the other";
  if (auto d = calls_difference(a.calls, b.calls); !d.empty())
    return d;
  return transcript_difference(a.chat, b.chat);
}

} // namespace troupe
