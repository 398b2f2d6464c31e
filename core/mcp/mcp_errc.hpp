#pragma once
// Errors of the MCP client: the pure wire code (core/mcp/) and the session
// (mcp/session.hpp). Every context is one line naming the server and the
// step when the caller knows them ("mcp server 'fs': initialize: ...").

#include <cstdint>

#include <caf/error.hpp>
#include <caf/make_message.hpp> // before CAF_ERROR_CODE_ENUM: its expansion needs it

namespace troupe {

enum class mcp_errc : uint8_t {
  /// The server answered `initialize` with a protocol revision troupe does
  /// not speak (mcp_protocol_versions()); the context names both sides.
  unsupported_version = 1,
  /// A reply troupe cannot use: an `initialize` result without a protocol
  /// version, a `tools/list` result without a `tools` array, ...
  malformed_reply,
  /// The server answered a request with a JSON-RPC error.
  server_error,
  /// No answer within the caller's deadline.
  timeout,
  /// The server went away: stdout closed, the process exited, a write to
  /// its stdin failed. The context carries the exit status and the last of
  /// its stderr when known.
  server_gone,
  /// Streamable HTTP: the server no longer knows our `Mcp-Session-Id`
  /// (HTTP 404); a new session must be opened.
  session_expired,
  /// The HTTP request itself failed (connect, status, a reply that is not
  /// JSON-RPC); the context says how.
  transport_failed,
  /// The session could not be set up (no thread, no eventfd, a bad fd).
  start_failed,
  /// The session was closed by its owner.
  closed,
};

} // namespace troupe

CAF_ERROR_CODE_ENUM(troupe::mcp_errc, "mcp")
