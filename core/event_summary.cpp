#include "core/event_summary.hpp"

#include <ctime>

namespace troupe {

std::string one_line(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (char c : text) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    // Other control characters would reach a terminal as commands (ESC
    // sequences can rewrite the screen): a model or tool wrote them.
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

std::string format_timestamp(int64_t ts_us) {
  std::time_t secs = static_cast<std::time_t>(ts_us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03d",
                static_cast<int>((ts_us / 1000) % 1000));
  return buf;
}

namespace {

struct summarizer {
  std::string operator()(const run_start& x) const {
    return "agent " + x.agent + " (tenant " + x.tenant + "): "
           + one_line(x.task, 60);
  }
  std::string operator()(const turn_start& x) const {
    return "turn " + std::to_string(x.turn) + " ("
           + std::string(to_string(x.mode)) + ")";
  }
  std::string operator()(const model_request& x) const {
    return "turn " + std::to_string(x.turn) + " -> " + x.route + ", "
           + std::to_string(x.messages) + " messages, "
           + std::to_string(x.tools.size()) + " tools";
  }
  std::string operator()(const model_reply& x) const {
    std::string by = x.endpoint.empty() ? "" : " from " + x.endpoint + ":" + x.model;
    if (!x.failure.empty())
      return "provider failure: " + x.failure + by
             + (x.failure_detail.empty() ? "" : ": " + one_line(x.failure_detail, 60));
    std::string s;
    for (auto& c : x.tool_calls)
      s += (s.empty() ? "calls " : ", ") + c.name;
    if (!x.text.empty())
      s += (s.empty() ? "text: " : "; text: ") + one_line(x.text, 40);
    if (s.empty())
      s = "empty reply";
    s += by + " [" + std::to_string(x.tokens.input) + "+" + std::to_string(x.tokens.output)
         + " tokens";
    if (x.cost_micro_usd != 0)
      s += ", $" + std::to_string(x.cost_micro_usd / 1e6).substr(0, 8);
    return s + "]";
  }
  std::string operator()(const tool_call& x) const {
    return x.call_id + " " + x.name + " " + one_line(x.args_json, 60);
  }
  std::string operator()(const policy_decision& x) const {
    return x.call_id + " " + std::string(to_string(x.decision)) + " by rule " + x.rule
           + (x.decision == decision_kind::allow ? "" : ": " + one_line(x.reason, 60));
  }
  std::string operator()(const tool_result& x) const {
    return x.call_id + " " + x.name + (x.ok ? " ok: " : " error: ")
           + one_line(x.output, 60);
  }
  std::string operator()(const turn_end& x) const {
    return "turn " + std::to_string(x.turn);
  }
  std::string operator()(const recovery& x) const {
    return x.reason + (x.detail.empty() ? "" : ": " + one_line(x.detail, 60));
  }
  std::string operator()(const completion& x) const {
    auto text = x.answer.empty() ? x.summary : x.answer;
    return std::string(to_string(x.status)) + ": " + one_line(text, 60);
  }
  std::string operator()(const error_event& x) const {
    return std::string(to_string(x.code)) + ": " + one_line(x.message, 70);
  }
  std::string operator()(const checkpoint& x) const {
    return "turn " + std::to_string(x.turn) + ", "
           + std::to_string(x.totals.tool_calls) + " tool calls";
  }
  std::string operator()(const approval_request& x) const {
    return x.call_id + " " + x.tool + " awaits approval (rule " + x.rule + ", until "
           + format_timestamp(x.deadline_us) + ")";
  }
  std::string operator()(const approval_decision& x) const {
    return x.call_id + (x.approved ? " approved by " : " denied by ") + x.by
           + (x.reason.empty() ? "" : ": " + one_line(x.reason, 50));
  }
  std::string operator()(const retry& x) const {
    return x.call_id + " attempt " + std::to_string(x.attempt) + " failed, retry in "
           + std::to_string(x.delay_us / 1000) + " ms: " + one_line(x.reason, 50);
  }
  std::string operator()(const parse_failure& x) const {
    return x.call_id + " " + x.name + ": " + one_line(x.reason, 60);
  }
  std::string operator()(const route_attempt& x) const {
    std::string s = x.route + " attempt " + std::to_string(x.attempt) + " (" + x.strategy;
    if (!x.tier.empty())
      s += ", tier " + x.tier;
    s += "): ";
    if (x.chosen < 0 || static_cast<size_t>(x.chosen) >= x.candidates.size())
      return s + "no candidate: " + x.reason;
    auto& c = x.candidates[static_cast<size_t>(x.chosen)];
    s += c.endpoint + ":" + c.model + " (" + x.reason + ")" + (x.hedge ? " hedge" : "");
    return s + " -> " + x.outcome;
  }
  std::string operator()(const delegation& x) const {
    return x.call_id + " -> " + x.child_run_id + " (" + x.agent + ", "
           + std::to_string(x.limits.max_turns) + " turns): " + one_line(x.task, 50);
  }
  std::string operator()(const verification& x) const {
    std::string failed;
    for (auto& r : x.results)
      if (!r.ok)
        failed += (failed.empty() ? "" : ", ") + r.name;
    return "checks attempt " + std::to_string(x.attempt)
           + (x.passed ? " passed" : " failed: " + one_line(failed, 60));
  }
  std::string operator()(const phase_start& x) const {
    return x.name + " (" + x.role + "), attempt " + std::to_string(x.attempt);
  }
  std::string operator()(const gate_pass& x) const {
    return x.name + (x.skipped ? " skipped: " + one_line(x.review_skipped_reason, 60)
                               : " passed: " + one_line(x.report, 60));
  }
  std::string operator()(const gate_fail& x) const {
    return x.name + " attempt " + std::to_string(x.attempt) + ": " + one_line(x.report, 60);
  }
  std::string operator()(const artifact& x) const {
    return x.path + " (" + std::to_string(x.bytes) + " bytes, sha256 " + x.sha256.substr(0, 12)
           + ")";
  }
  std::string operator()(const delegation_result& x) const {
    return x.call_id + " <- " + x.child_run_id + " " + std::string(to_string(x.status)) + ": "
           + one_line(x.status == run_status::completed ? x.answer : x.summary, 50);
  }
};

} // namespace

std::string summarize(const event& ev) {
  return std::visit(summarizer{}, ev.body);
}

} // namespace troupe
