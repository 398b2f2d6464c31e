#include "net/server_types.hpp"

namespace troupe::net {

std::optional<std::string> server_request::header(std::string_view lower_name) const {
  if (auto* v = find_header(headers, lower_name))
    return *v;
  return std::nullopt;
}

std::optional<std::string> server_request::query_param(std::string_view name) const {
  for (const auto& [n, v] : query)
    if (n == name)
      return v;
  return std::nullopt;
}

} // namespace troupe::net
