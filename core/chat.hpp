#pragma once
// What a model sees: chat messages and tool specifications. Providers
// translate these into their wire formats.

#include <string>
#include <vector>

#include "schemas/event.hpp"

namespace troupe {

enum class chat_role : uint8_t { system, user, assistant, tool };

struct chat_message {
  chat_role role = chat_role::user;
  std::string content;
  std::vector<tool_call_ref> tool_calls; ///< assistant messages only
  std::string tool_call_id;              ///< tool messages only
  /// Tool messages only: the call failed, was denied or its arguments were
  /// rejected. Anthropic shows the model this as `is_error`.
  bool tool_error = false;
};

struct tool_spec {
  std::string name;
  std::string description;
  std::string parameters_json; ///< the JSON Schema of the arguments
};

} // namespace troupe
