#pragma once
// Field readers shared by the scenario's parsers (core/scenario.cpp,
// core/scenario_models.cpp): each returns the first problem as
// `runtime_errc::invalid_scenario` with `source:line:column: what; expected`.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <toml++/toml.h>

#include "core/runtime_errc.hpp"
#include "core/toml_text.hpp"

namespace troupe::detail {

using key_list = std::initializer_list<std::string_view>;
using key_vector = std::vector<std::string_view>;

class toml_reader {
public:
  explicit toml_reader(const std::string& source) : source_(source) {}

  [[nodiscard]] caf::error fail(const toml::source_region& where, const std::string& what) const {
    // Clamped because toml++ uses 0 for an unknown position; the top of the file is a more
    // useful jump target than a location editors cannot parse.
    auto line = std::max<uint32_t>(where.begin.line, 1);
    auto column = std::max<uint32_t>(where.begin.column, 1);
    return caf::make_error(runtime_errc::invalid_scenario,
                           source_ + ":" + std::to_string(line) + ":" + std::to_string(column)
                             + ": " + what);
  }

  template <class Keys = key_list>
  caf::error check_keys(const toml::table& t, const std::string& where,
                        const Keys& allowed) const {
    for (auto&& [key, value] : t)
      if (!contains(allowed, key.str()))
        return fail(key.source(), "unknown key " + in_quotes(key.str()) + " in " + where
                                    + "; expected one of " + join(allowed));
    return {};
  }

  caf::error wrong_type(const toml::node& n, std::string_view key, const std::string& where,
                        const std::string& expected) const {
    return fail(n.source(), in_quotes(key) + " in " + where + " is " + describe(n.type())
                              + "; expected " + expected);
  }

  caf::error missing(const toml::table& t, std::string_view key, const std::string& where,
                     const std::string& expected) const {
    return fail(t.source(),
                "missing key " + in_quotes(key) + " in " + where + "; expected " + expected);
  }

  // A top-level table that may be absent; `out` stays null then.
  caf::error section(const toml::table& root, std::string_view key,
                     const toml::table*& out) const {
    const auto* node = root.get(key);
    if (node && !(out = node->as_table()))
      return wrong_type(*node, key, "the top level", "a table [" + std::string{key} + "]");
    return {};
  }

  // Leaves `out` untouched when the key is absent, unless `required` describes the expected
  // value: then absence is an error.
  caf::error read_string(const toml::table& t, const std::string& where, std::string_view key,
                         std::string& out, const char* required = nullptr) const {
    const auto* node = t.get(key);
    if (!node)
      return required ? missing(t, key, where, required) : caf::error{};
    const auto* str = node->as_string();
    if (!str)
      return wrong_type(*node, key, where, "a string");
    out = str->get();
    return {};
  }

  // Like read_string, for an integer from `min` to the largest value `T` and TOML both hold.
  template <class T>
  caf::error read_int(const toml::table& t, const std::string& where, std::string_view key,
                      int64_t min, T& out) const {
    constexpr auto max = static_cast<int64_t>(
      std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max()));
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* num = node->as_integer();
    if (!num)
      return wrong_type(*node, key, where, "an integer");
    if (num->get() < min || num->get() > max)
      return fail(node->source(), in_quotes(key) + " in " + where + " is "
                                    + std::to_string(num->get()) + "; expected an integer from "
                                    + std::to_string(min) + " to " + std::to_string(max));
    out = static_cast<T>(num->get());
    return {};
  }

  // Like read_int, for a number (integer or float) from `min` to `max`.
  caf::error read_double(const toml::table& t, const std::string& where, std::string_view key,
                         double min, double max, double& out) const {
    const auto* node = t.get(key);
    if (!node)
      return {};
    auto value = node->value<double>();
    if (!value || !(node->is_floating_point() || node->is_integer()))
      return wrong_type(*node, key, where, "a number");
    if (!(*value >= min && *value <= max))
      return fail(node->source(), in_quotes(key) + " in " + where + " is "
                                    + std::to_string(*value) + "; expected a number from "
                                    + std::to_string(min) + " to " + std::to_string(max));
    out = *value;
    return {};
  }

  caf::error read_bool(const toml::table& t, const std::string& where, std::string_view key,
                       bool& out) const {
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* b = node->as_boolean();
    if (!b)
      return wrong_type(*node, key, where, "true or false");
    out = b->get();
    return {};
  }

  // A list of non-empty strings; leaves `out` untouched when the key is absent.
  caf::error read_strings(const toml::table& t, const std::string& where, std::string_view key,
                          std::vector<std::string>& out) const {
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* list = node->as_array();
    if (!list)
      return wrong_type(*node, key, where, "an array of strings");
    out.clear();
    for (const auto& item : *list) {
      const auto* str = item.as_string();
      if (!str)
        return wrong_type(item, key, where, "an array of strings");
      if (str->get().empty())
        return fail(item.source(), "empty string in " + in_quotes(key) + " of " + where
                                     + "; expected a non-empty string");
      out.push_back(str->get());
    }
    return {};
  }

protected:
  template <class Range, class T>
  static bool contains(const Range& r, const T& x) {
    return std::find(std::begin(r), std::end(r), x) != std::end(r);
  }

  const std::string& source_;
};

} // namespace troupe::detail
