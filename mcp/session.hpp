#pragma once
// One MCP client session: JSON-RPC 2.0 with one MCP server, over the
// server's stdio pipes or over Streamable HTTP. Threads, no actors: the
// server actor above (actors/mcp_server) owns one session at a time, and
// opens a new one when the server went away.
//
// Opening. `open_stdio` and `open_http` send `initialize` (offering
// mcp_protocol_versions().front()), accept the server's answer when it is
// a revision troupe speaks, and send `notifications/initialized`; all of it
// bounded by `startup_timeout`. On failure the error names the server and
// the step ("mcp server 'fs': initialize: timed out after 30000 ms"), a
// stdio server has been killed and reaped, and no callback runs any more.
//
// Calls. `call_tool` is asynchronous: `done` runs exactly once, with the
// result, or without an answer (timeout, `cancel`, the server gone, the
// session closed; `mcp_call_result::error` says which). A timeout and a
// cancel send `notifications/cancelled` for the request. Responses are
// matched by id, in whatever order they come, between notifications and
// the server's own requests, which are answered (`ping` with {}, anything
// else with -32601: troupe declares no client capabilities).
// `list_tools` and `ping` block the calling thread until their answer or
// their timeout.
//
// Failure. A stdio server is gone when its stdout closes or a write to its
// stdin fails: every call in flight fails at once with an error naming the
// server, its exit status and the last lines of its stderr, and
// `on_closed` runs. An HTTP server is gone for this session when it answers
// 404 to our `Mcp-Session-Id` (the session expired); one failed POST (no
// connection, HTTP 500) fails only the request it carried. What a server
// writes that is not JSON-RPC (a stray log line on stdout) is skipped and
// counted, with a warning for the first few.
//
// Threads. A session has a timer thread (deadlines of requests) and, over
// stdio, one I/O thread (poll on stdin, stdout, stderr); over HTTP, replies
// arrive on the `http_client`'s I/O thread. Callbacks (`done`, the events)
// run on one of these, or on the calling thread of `cancel` and `close`,
// or of `call_tool` when the session is no longer alive. They must not
// block, and must not call `close`, `list_tools` or `ping` (which wait for
// the thread running the callback) or destroy the session; they may call
// `call_tool` and `cancel`. Every public member may be called from any
// other thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/mcp/mcp_errc.hpp"
#include "core/mcp/mcp_replies.hpp"
#include "core/mcp/mcp_types.hpp"
#include "net/http_types.hpp"

namespace troupe::net {
class http_client;
} // namespace troupe::net

namespace troupe::mcp {

namespace detail {
class rpc_core;
class transport;
} // namespace detail

/// A started stdio server: our ends of its pipes and how to end it. The
/// session takes ownership of the descriptors (and closes them).
struct stdio_pipes {
  int stdin_fd = -1;  ///< write end of the server's stdin
  int stdout_fd = -1; ///< read end of its stdout
  int stderr_fd = -1; ///< read end of its stderr; -1: not captured
  /// Ends the server now (SIGKILL). Called from the session's I/O thread,
  /// once the server's stdout closed or the session is closing.
  std::function<void()> kill;
  /// Waits until the server has ended and returns its wait status
  /// (waitpid's). Called exactly once, after `kill`, on the I/O thread.
  std::function<int()> reap;
};

struct session_options {
  /// The server's name in troupe (`[mcp.NAME]`): in every error and log line.
  std::string name;
  /// From the start of `open_*` to the end of `initialize`.
  std::chrono::milliseconds startup_timeout{30000};
  /// stdio: after `close` closed the server's stdin, how long it may take
  /// to exit on its own before it is killed.
  std::chrono::milliseconds shutdown_grace{2000};
  /// One message (a stdout line, an SSE event, an HTTP body); a longer one
  /// is dropped (counted, warned), so the request it answered times out.
  size_t max_message_bytes = size_t{16} << 20;
  /// stdio: the last bytes of the server's stderr kept for errors.
  size_t stderr_tail_bytes = size_t{16} << 10;
};

struct session_events {
  /// `notifications/tools/list_changed` arrived (after the session opened):
  /// list the tools again.
  std::function<void()> on_tools_changed;
  /// The session ended by itself (server gone, session expired), with the
  /// reason; at most once, only once `open_*` succeeded (a failure before
  /// is its error), and never for `close`.
  std::function<void(std::string why)> on_closed;
};

/// What a session tolerated; a snapshot.
struct session_counters {
  uint64_t non_json_lines = 0;      ///< stdout lines (or SSE events) that were not JSON
  uint64_t malformed_messages = 0;  ///< JSON, but not a JSON-RPC message
  uint64_t oversized_messages = 0;  ///< longer than max_message_bytes, dropped
  uint64_t notifications = 0;       ///< notifications from the server
  uint64_t server_requests = 0;     ///< requests from the server, answered
  uint64_t out_of_order = 0;        ///< responses that overtook an older request
  uint64_t unmatched_responses = 0; ///< responses to nothing in flight (late ones)
};

using server_info = mcp_server_info;

class session {
public:
  /// A session over a started server's stdio pipes (one JSON object per
  /// line). Errors: `mcp_errc::start_failed` (bad descriptors, no thread),
  /// and the failure of `initialize`: `unsupported_version`,
  /// `malformed_reply`, `server_error`, `timeout`, `server_gone`.
  [[nodiscard]] static caf::expected<std::unique_ptr<session>>
  open_stdio(stdio_pipes pipes, session_options opts, session_events events = {});

  /// A session with a Streamable HTTP endpoint (`url`), through `client`,
  /// which must outlive the session. `extra` headers go on every request
  /// (`Authorization`, say). Errors as `open_stdio`, plus
  /// `transport_failed` and `session_expired`.
  [[nodiscard]] static caf::expected<std::unique_ptr<session>>
  open_http(std::string url, net::http_headers extra, net::http_client& client,
            session_options opts, session_events events = {});

  /// Closes the session (see `close`).
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// What `initialize` said: name, version, negotiated protocol version,
  /// whether tool list changes are announced, instructions.
  [[nodiscard]] const server_info& info() const { return info_; }

  /// Every tool of the server, following `nextCursor` (at most 100 pages);
  /// `timeout` bounds the whole listing. Tools without a name are skipped
  /// (and warned about), as is a second tool of the same name.
  [[nodiscard]] caf::expected<std::vector<mcp_tool>> list_tools(std::chrono::milliseconds timeout);

  /// Calls tool `name` with `args` (an object); `done` runs exactly once.
  /// Returns the call's id, for `cancel`.
  uint64_t call_tool(std::string name, nlohmann::json args, std::chrono::milliseconds timeout,
                     std::function<void(mcp_call_result)> done);

  /// Gives up on a call: `done` runs now (not answered, not retryable) and
  /// the server is sent `notifications/cancelled`. Unknown or finished: no-op.
  void cancel(uint64_t call);

  /// A round trip. Errors: `timeout`, `server_error`, and whatever ended
  /// the session.
  [[nodiscard]] caf::error ping(std::chrono::milliseconds timeout);

  /// Neither closed nor gone.
  [[nodiscard]] bool alive() const;
  [[nodiscard]] session_counters counters() const;
  /// stdio: the last `stderr_tail_bytes` of the server's stderr; HTTP: empty.
  [[nodiscard]] std::string stderr_tail() const;

  /// Idempotent. Fails every call in flight ("session closed"), then ends
  /// the transport: a stdio server has its stdin closed, `shutdown_grace`
  /// to exit, then is killed, and is reaped; an HTTP session cancels its
  /// requests and DELETEs its `Mcp-Session-Id` (best effort, not awaited).
  /// Returns when no callback of this session runs any more.
  void close();

private:
  session();
  // Attaches the transport, starts the timer thread, then `initialize`.
  caf::error begin(const session_options& opts);
  caf::error initialize(const session_options& opts);

  std::unique_ptr<detail::rpc_core> core_;
  std::unique_ptr<detail::transport> transport_;
  server_info info_;
  std::mutex close_mu_;
};

} // namespace troupe::mcp
