#include "schemas/event.hpp"

#include <array>

namespace troupe {

namespace {

constexpr std::array<std::string_view, event_kind_count> kind_names{
  "run_start",  "turn_start", "model_request", "model_reply",
  "tool_call",  "policy_decision", "tool_result", "turn_end",
  "recovery",   "completion", "error", "checkpoint", "parse_failure",
  "approval_request", "approval_decision", "retry", "route_attempt", "delegation",
  "delegation_result", "verification", "phase_start", "gate_pass", "gate_fail", "artifact",
};

constexpr std::array<std::string_view, 5> status_names{
  "running", "completed", "limit_reached", "failed", "canceled",
};

constexpr std::array<std::string_view, 5> mode_names{
  "normal", "reminder", "repair", "recovery", "fix",
};

constexpr std::array<std::string_view, 3> decision_names{"allow", "deny", "ask"};

constexpr std::array<std::string_view, 4> error_names{
  "refused", "out_of_scope", "canceled", "uncertain",
};

constexpr std::array<std::string_view, 6> phase_names{
  "created", "between_turns", "turn_started", "awaiting_reply", "handling_calls", "finished",
};

constexpr std::array<std::string_view, 5> call_status_names{
  "pending", "approved", "awaiting_approval", "in_flight", "done",
};

template <class Enum, size_t N>
bool lookup(const std::array<std::string_view, N>& names, std::string_view name,
            Enum& out) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) {
      out = static_cast<Enum>(i);
      return true;
    }
  return false;
}

} // namespace

std::string_view to_string(event_kind x) {
  return kind_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, event_kind& out) {
  return lookup(kind_names, name, out);
}

std::string_view to_string(run_status x) {
  return status_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, run_status& out) {
  return lookup(status_names, name, out);
}

std::string_view to_string(decision_kind x) {
  return decision_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, decision_kind& out) {
  return lookup(decision_names, name, out);
}

std::string_view to_string(error_kind x) {
  return error_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view name, error_kind& out) {
  return lookup(error_names, name, out);
}

std::string_view to_string(turn_mode x) {
  return mode_names[static_cast<size_t>(x)];
}

std::string_view to_string(run_phase x) {
  return phase_names[static_cast<size_t>(x)];
}

std::string_view to_string(call_status x) {
  return call_status_names[static_cast<size_t>(x)];
}

} // namespace troupe
