#include "schemas/event.hpp"

#include <array>

namespace troupe {

namespace {

constexpr std::array<std::string_view, event_kind_count> kind_names{
  "run_start",  "turn_start", "model_request", "model_reply",
  "tool_call",  "policy_decision", "tool_result", "turn_end",
  "recovery",   "completion", "error", "checkpoint", "parse_failure",
  "approval_request", "approval_decision", "retry",
};

constexpr std::array<std::string_view, 5> status_names{
  "running", "completed", "limit_reached", "failed", "canceled",
};

constexpr std::array<std::string_view, 4> mode_names{
  "normal", "reminder", "repair", "recovery",
};

} // namespace

std::string_view to_string(event_kind x) {
  return kind_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, event_kind& out) {
  for (size_t i = 0; i < kind_names.size(); ++i)
    if (kind_names[i] == name) {
      out = static_cast<event_kind>(i);
      return true;
    }
  return false;
}

std::string_view to_string(run_status x) {
  return status_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, run_status& out) {
  for (size_t i = 0; i < status_names.size(); ++i)
    if (status_names[i] == name) {
      out = static_cast<run_status>(i);
      return true;
    }
  return false;
}

std::string_view to_string(turn_mode x) {
  return mode_names[static_cast<size_t>(x)];
}

} // namespace troupe
