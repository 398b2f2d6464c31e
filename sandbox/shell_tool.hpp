#pragma once
// The `shell` tool: runs an argv (never through a shell) in an isolated
// sandbox with the workspace as its only writable root, the network only when
// the policy rule grants it, and only the secrets the rule grants, as
// environment variables. Its output is redacted of those secrets' values.
// Where isolation is unavailable it refuses to run.

#include <cstddef>
#include <memory>
#include <string>

#include "core/sandbox_spec.hpp"
#include "core/secrets.hpp"
#include "core/tool.hpp"

namespace troupe {

struct shell_tool_config {
  std::string worker_binary; ///< empty: find_sandbox_worker()
  size_t workers = 2;        ///< pre-started sandbox workers
  sandbox_limits limits;
  std::shared_ptr<const secret_store> secrets;
};

/// The tool definition; its pool starts with the first call.
[[nodiscard]] tool_definition make_shell_tool(shell_tool_config cfg);

} // namespace troupe
