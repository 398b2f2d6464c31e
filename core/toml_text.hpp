#pragma once
// Wording shared by the TOML file parsers (scenarios, policies), so their
// errors read the same.

#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace troupe::detail {

/// "a string", "an integer", ... for "expected X, got Y" messages.
[[nodiscard]] inline std::string describe(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

[[nodiscard]] inline std::string in_quotes(std::string_view s) {
  return "'" + std::string{s} + "'";
}

/// Comma-separated, for "expected one of ..." lists.
template <class Keys>
[[nodiscard]] std::string join(const Keys& keys) {
  std::string out;
  for (auto k : keys)
    out += (out.empty() ? "" : ", ") + std::string{k};
  return out;
}

} // namespace troupe::detail
