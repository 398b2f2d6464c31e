#pragma once
// The `shell` tool: runs an argv (never through a shell) in an isolated
// sandbox with the workspace as its only writable root, the network only when
// the policy rule grants it, and only the secrets the rule grants, as
// environment variables. Its output is redacted of those secrets' values.
// Where isolation is unavailable it refuses to run.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/sandbox_spec.hpp"
#include "core/secrets.hpp"
#include "core/tool.hpp"
#include "sandbox/sandbox_pool.hpp"

namespace troupe {

struct shell_tool_config {
  std::string worker_binary; ///< empty: find_sandbox_worker()
  size_t workers = 2;        ///< pre-started sandbox workers
  sandbox_limits limits;
  std::shared_ptr<const secret_store> secrets;
};

/// What the tool's worker pool did so far, from any thread; nothing before
/// the first call started the pool, or while it is starting (it never waits
/// for the start, which can take seconds).
using shell_pool_probe = std::function<std::optional<pool_stats>()>;

/// The tool definition; its pool starts with the first call. With `probe`,
/// sets it to read the pool's figures (it stays valid after the definition
/// is gone).
[[nodiscard]] tool_definition make_shell_tool(shell_tool_config cfg,
                                              shell_pool_probe* probe = nullptr);

} // namespace troupe
