#pragma once

#include <cstdint>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace troupe {

/// Errors of the pure runtime: scenario files, tool calls, workspaces.
enum class runtime_errc : uint8_t {
  invalid_scenario = 1, ///< a scenario or config file is malformed
  invalid_arguments,    ///< tool-call arguments fail sanitize or schema
  unknown_tool,         ///< a call names a tool that is not registered
  path_escape,          ///< a path leaves the workspace root
  tool_failed,          ///< the tool ran and reported a failure
  io_failed,            ///< a file operation failed
  bad_snapshot,         ///< a checkpoint's snapshot cannot restore its run
};

} // namespace troupe

CAF_ERROR_CODE_ENUM(troupe::runtime_errc, "runtime")
