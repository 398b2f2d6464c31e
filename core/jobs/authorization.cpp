#include "core/jobs/authorization.hpp"

#include <array>
#include <utility>

namespace troupe::jobs {

namespace {

constexpr std::array<std::pair<api_action, std::string_view>, 6> action_names{{
  {api_action::read, "read"},
  {api_action::submit, "submit"},
  {api_action::cancel, "cancel"},
  {api_action::approve, "approve"},
  {api_action::requeue, "requeue"},
  {api_action::manage_tenants, "manage_tenants"},
}};

} // namespace

std::string_view to_string(api_action a) {
  for (auto& [k, v] : action_names)
    if (k == a)
      return v;
  return "unknown";
}

std::optional<api_action> api_action_from(std::string_view s) {
  for (auto& [k, v] : action_names)
    if (v == s)
      return k;
  return std::nullopt;
}

role least_role_for(api_action a) {
  switch (a) {
    case api_action::read:
      return role::viewer;
    case api_action::submit:
      return role::submitter;
    case api_action::cancel:
    case api_action::approve:
    case api_action::requeue:
      return role::operator_;
    case api_action::manage_tenants:
      return role::admin;
  }
  return role::admin; // an unknown action: only the highest role
}

bool allows(role r, api_action a) {
  return static_cast<uint8_t>(r) >= static_cast<uint8_t>(least_role_for(a))
         && static_cast<uint8_t>(r) <= static_cast<uint8_t>(role::admin);
}

} // namespace troupe::jobs
