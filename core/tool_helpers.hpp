#pragma once
// Small pieces the built-in tool handlers share (runtime/builtin_tools.cpp,
// runtime/file_tools.cpp). Internal to runtime/.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tool.hpp"

namespace troupe::detail {

/// A failed outcome whose text starts with the tool name.
inline tool_outcome failed(const char* tool, const std::string& what, bool retryable = false) {
  return {false, std::string{tool} + ": " + what, retryable};
}

/// The string argument `key`, or nullopt. Handlers normally get
/// envelope-checked arguments; this keeps a direct call with the wrong shape
/// from throwing out of nlohmann.
inline std::optional<std::string> string_arg(const nlohmann::json& args, const char* key) {
  if (!args.is_object())
    return std::nullopt;
  auto it = args.find(key);
  if (it == args.end() || !it->is_string())
    return std::nullopt;
  return it->get<std::string>();
}

} // namespace troupe::detail
