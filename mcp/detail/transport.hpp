#pragma once
// How the session's JSON-RPC core (rpc_core) and a transport (stdio pipes,
// Streamable HTTP) talk. Internal to mcp/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/mcp/mcp_errc.hpp"

namespace troupe::mcp::detail {

/// What a transport reports; implemented by rpc_core. Called from the
/// transport's threads, never from inside `transport::send`.
class transport_sink {
public:
  virtual ~transport_sink() = default;
  /// One message as the server sent it (a line, an SSE event's data, a
  /// body), not yet parsed.
  virtual void on_message(std::string_view text) = 0;
  /// A message longer than the limit was dropped.
  virtual void on_oversized(uint64_t bytes) = 0;
  /// The message carrying request `id` could not be delivered or got no
  /// response where one was due (HTTP: a failed POST, a stream that ended
  /// without it). No-op when the request was answered meanwhile.
  virtual void on_request_failed(uint64_t id, mcp_errc code, std::string why,
                                 bool retryable) = 0;
  /// The server is gone for this session; every request in flight fails.
  virtual void on_gone(mcp_errc code, std::string why) = 0;
};

/// Moves serialized messages. Thread-safe.
class transport {
public:
  virtual ~transport() = default;
  /// Queues one message; never blocks on the server and never calls the
  /// sink from within. `request_id`: set when the message is a request
  /// that expects a response.
  virtual void send(std::string message, std::optional<uint64_t> request_id) = 0;
  /// Request `id` is given up (timeout, cancel): HTTP stops waiting for its
  /// reply stream; stdio has nothing to do.
  virtual void abandon(uint64_t id) {}
  /// `initialize` succeeded with `version`: HTTP sends it as
  /// MCP-Protocol-Version from now on and opens its notification stream.
  virtual void initialized(const std::string& version) {}
  /// Ends all I/O; when it returns the sink is called no more. Idempotent.
  virtual void shutdown() = 0;
  /// The next `shutdown` gives the server no grace to exit on its own (a
  /// server that failed `initialize` has nothing left to finish).
  virtual void skip_grace() {}
  /// The server's last stderr bytes (stdio); empty otherwise.
  [[nodiscard]] virtual std::string stderr_tail() const { return {}; }
};

} // namespace troupe::mcp::detail
