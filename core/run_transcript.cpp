// The transcript's fold (core/run_state.hpp `apply(transcript&, ...)`): what
// the model is shown, folded by itself so that a run restored from a
// checkpoint gets it from the events alone.

#include <algorithm>

#include "core/event_summary.hpp"
#include "core/run_state.hpp"
#include "core/verification.hpp"

namespace troupe {

namespace {

constexpr size_t recent_results_kept = 5;

std::string reminder_text() {
  return "You replied without calling a tool. To finish, call `complete` with "
         "a status and your final answer; otherwise call one of your tools.";
}

std::string repair_text() {
  return "Some of your tool calls could not be used (see the errors above). "
         "Fix the arguments so they match the tool's JSON schema and try "
         "again.";
}

std::string recovery_text(const std::string& reason) {
  return "A limit was reached (" + reason
         + "). All tools except `complete` are withdrawn. Call `complete` "
           "now with status \"partial\" or \"failure\" and a summary of what "
           "was done and what remains.";
}

// The transcript. It decides for itself which calls a denial names (those of
// the current turn's replies, as the control state's `calls`) and what the
// recovery prompt quotes, so it can be folded without the control state.
struct transcript_folder {
  transcript& t;

  void remember(std::string line) {
    t.recent_results.push_back(std::move(line));
    if (t.recent_results.size() > recent_results_kept)
      t.recent_results.erase(t.recent_results.begin());
  }
  void add_tool_message(const std::string& call_id, std::string content, bool failed) {
    chat_message m;
    m.role = chat_role::tool;
    m.tool_call_id = call_id;
    m.content = std::move(content);
    m.tool_error = failed;
    t.conversation.push_back(std::move(m));
  }
  // The call of the current turn's replies with this id, as find_slot finds
  // it among the control state's calls.
  const tool_call_ref* current_call(const std::string& call_id) const {
    for (size_t i = t.turn_begins; i < t.conversation.size(); ++i)
      if (t.conversation[i].role == chat_role::assistant)
        for (auto& c : t.conversation[i].tool_calls)
          if (c.call_id == call_id)
            return &c;
    return nullptr;
  }

  void operator()(const run_start& x) {
    t.max_fix_attempts = std::max<uint32_t>(x.max_fix_attempts, 1);
    if (!x.instructions.empty())
      t.conversation.push_back({chat_role::system, x.instructions, {}, {}});
    t.conversation.push_back({chat_role::user, x.task, {}, {}});
  }
  void operator()(const turn_start& x) {
    t.turn_begins = t.conversation.size();
    switch (x.mode) {
      case turn_mode::reminder:
        t.conversation.push_back({chat_role::user, reminder_text(), {}, {}});
        break;
      case turn_mode::repair:
        t.conversation.push_back({chat_role::user, repair_text(), {}, {}});
        break;
      case turn_mode::recovery:
        t.conversation.push_back(
          {chat_role::user, recovery_text(t.recovery_reason), {}, {}});
        break;
      case turn_mode::fix:
        t.conversation.push_back({chat_role::user,
                                  fix_turn_text(t.verification_log.empty()
                                                  ? std::string{}
                                                  : t.verification_log.back(),
                                                static_cast<uint32_t>(t.verification_log.size()),
                                                t.max_fix_attempts),
                                  {}, {}});
        break;
      case turn_mode::normal:
        break;
    }
  }
  void operator()(const model_reply& x) {
    if (x.failure.empty())
      t.conversation.push_back({chat_role::assistant, x.text, x.tool_calls, {}});
  }
  void operator()(const policy_decision& x) {
    if (x.decision != decision_kind::deny)
      return;
    auto* call = current_call(x.call_id);
    if (call == nullptr)
      return;
    remember(call->name + " denied: " + one_line(x.reason, 80));
    add_tool_message(x.call_id, "denied by rule " + x.rule + ": " + x.reason, true);
  }
  void operator()(const approval_decision& x) {
    if (x.approved)
      return;
    auto* call = current_call(x.call_id);
    if (call == nullptr)
      return;
    remember(call->name + " not approved: " + one_line(x.reason, 80));
    add_tool_message(x.call_id, "denied by " + x.by + ": " + x.reason, true);
  }
  void operator()(const tool_result& x) {
    remember(x.name + (x.ok ? " ok: " : " failed: ") + one_line(x.output, 80));
    add_tool_message(x.call_id, x.output, !x.ok);
  }
  void operator()(const recovery& x) { t.recovery_reason = x.reason; }
  void operator()(const error_event& x) {
    if (x.code == error_kind::canceled || x.code == error_kind::out_of_scope
        || x.call_id.empty())
      return;
    add_tool_message(x.call_id, "error: " + x.message, true);
  }
  void operator()(const parse_failure& x) {
    remember(x.name + " rejected: " + one_line(x.reason, 80));
    add_tool_message(x.call_id, "error: " + x.reason, true);
  }
  // Events that show the model nothing.
  void operator()(const model_request&) {}
  void operator()(const tool_call&) {}
  void operator()(const approval_request&) {}
  void operator()(const retry&) {}
  void operator()(const route_attempt&) {}
  void operator()(const delegation&) {}
  void operator()(const delegation_result&) {}
  void operator()(const verification& x) { t.verification_log.push_back(verification_report(x)); }
  void operator()(const artifact&) {}
  void operator()(const phase_start&) {}
  void operator()(const gate_pass&) {}
  void operator()(const gate_fail&) {}
  void operator()(const turn_end&) {}
  void operator()(const completion&) {}
  void operator()(const checkpoint&) {}
};

} // namespace

void apply(transcript& t, const event& ev) {
  std::visit(transcript_folder{t}, ev.body);
}

} // namespace troupe
