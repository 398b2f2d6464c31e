#include <array>
#include <utility>

#include "core/model_provider.hpp"

namespace troupe {

namespace {

constexpr std::array<std::pair<model_failure, std::string_view>, 11> names{{
  {model_failure::none, ""},
  {model_failure::rate_limited, "rate_limited"},
  {model_failure::overloaded, "overloaded"},
  {model_failure::server_error, "server_error"},
  {model_failure::timeout, "timeout"},
  {model_failure::connection, "connection"},
  {model_failure::bad_request, "bad_request"},
  {model_failure::quota_exhausted, "quota_exhausted"},
  {model_failure::malformed, "malformed"},
  {model_failure::canceled, "canceled"},
  {model_failure::exhausted, "exhausted"},
}};

} // namespace

std::string_view to_string(model_failure f) {
  for (auto& [k, v] : names)
    if (k == f)
      return v;
  return "unknown";
}

bool from_string(std::string_view name, model_failure& out) {
  for (auto& [k, v] : names)
    if (v == name) {
      out = k;
      return true;
    }
  return false;
}

bool retryable(model_failure f) {
  switch (f) {
    case model_failure::rate_limited:
    case model_failure::overloaded:
    case model_failure::server_error:
    case model_failure::timeout:
    case model_failure::connection:
    case model_failure::malformed:
      return true;
    default:
      return false;
  }
}

} // namespace troupe
