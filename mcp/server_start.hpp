#pragma once
// Starting one `[mcp.NAME]` server and opening a session with it: a stdio
// server runs in a sandbox (sandbox/sandboxed_child.hpp) whose only writable
// root is the workspace, with no network unless the policy grants it
// (core/mcp/mcp_grants.hpp), the server's limits, and read-only binds of
// what it needs to start (`read_only`, else derived from the command's own
// location: sandbox/read_only_roots.hpp); an HTTP server is reached through
// the shared HTTP client. Blocks for at most the server's startup timeout.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "core/mcp/mcp_types.hpp"
#include "mcp/session.hpp"

namespace troupe::net {
class http_client;
} // namespace troupe::net

namespace troupe::mcp {

/// Everything needed to start a server, decided before the first start.
struct server_setup {
  mcp_server_config config;
  /// The scenario's workspace root: the server's only writable root and its
  /// working directory.
  std::filesystem::path workspace;
  /// The stdio server's environment besides PATH, HOME and LANG: its
  /// `env` and the values of the secrets the policy grants it.
  std::map<std::string, std::string> env;
  /// HTTP: sent as `Authorization: Bearer` when not empty.
  std::string bearer_token;
  bool network = false;     ///< the policy grants the server network
  bool unsandboxed = false; ///< the policy allows running it without isolation
  /// HTTP servers: the client the session sends through (outlives it).
  std::shared_ptr<net::http_client> http;
};

/// The sandbox request `start_server` makes for a stdio server (for
/// `troupe mcp list` and the tests to show and check it).
[[nodiscard]] sandbox_request stdio_request(const server_setup& setup);

/// Starts the server (stdio) or reaches it (HTTP) and opens a session.
/// Errors: the session's (`mcp_errc`), and the sandbox's when the process
/// cannot start; a process that starts and dies is named with its exit
/// status and stderr tail.
[[nodiscard]] caf::expected<std::unique_ptr<session>>
start_server(const server_setup& setup, session_events events);

} // namespace troupe::mcp
