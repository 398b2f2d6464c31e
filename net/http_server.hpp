#pragma once
// troupe's embeddable HTTP/1.1 server, with Server-Sent Events: what
// `troupe serve` puts its JSON API on. Boost.Beast parses requests on
// Boost.Asio; every connection is a few asynchronous operations on a strand,
// never a thread, so thousands of idle keep-alive or SSE connections cost
// memory (a few KiB each), not threads (docs/architecture.md, "HTTP server").
//
// Threads. `io_threads` threads run one io_context; each connection lives on
// its own strand. The handler runs on an I/O thread, once per request, after
// the whole request (header and body) was read, concurrently for different
// connections when `io_threads` > 1. It must not block long (it holds up
// every connection of that thread) and answers through its `responder`, at
// once or later, from any thread. `responder`, `sse_stream` and
// `http_server`'s members are thread-safe; the responder posts to the
// connection's strand. Do not call `shutdown` or destroy the server from a
// handler or an `on_close` callback (it joins the I/O threads).
//
// Requests, one at a time per connection (a pipelined request waits in the
// buffer until the reply before it is written):
//   - HTTP/1.1 keep-alive, `Connection: close` honoured; HTTP/1.0 answered
//     (kept alive only on `Connection: keep-alive`). A reply always carries
//     Content-Length, or is chunked (SSE; close-delimited for HTTP/1.0).
//   - Bodies by Content-Length or `Transfer-Encoding: chunked`, up to
//     `max_body_bytes`. `Expect: 100-continue` is answered with 100 before
//     the body is read.
//   - Every refusal is problem+json (net/problem.hpp) and closes the
//     connection after a drain (up to 2 s and 8 MiB, so a client still
//     sending reads the reply, not a reset): header section over `max_header_bytes` 431 headers-too-large;
//     body over `max_body_bytes` 413 body-too-large, sent as soon as the
//     Content-Length (or the chunks so far) say so, without reading the rest;
//     unparsable request, HTTP/1.1 without one Host, a Transfer-Encoding whose
//     last coding is not chunked (or any in HTTP/1.0), a bad target or escape
//     400 malformed-request; other transfer codings before chunked 501
//     unsupported-transfer-encoding; an Expect other than 100-continue 417
//     expectation-failed; a connection beyond `max_connections` 503
//     overloaded. The handler throwing or dropping its responder unused: 500
//     internal-error.
//
// Timeouts; each closes the connection without a reply:
//   header_timeout  the request's header section, from its first byte (not
//                   renewed by each byte: a slow-loris client cannot stretch
//                   it); a new connection also has this long to start;
//   body_timeout    the whole body, from the end of the header section;
//   idle_timeout    between a reply and the first byte of the next request;
//   write_timeout   each write (a reply, an SSE batch) the client must take.
// No timeout runs while the handler holds a request. SSE streams have no
// idle timeout; they write a `: keepalive` comment every `sse_keepalive`
// when idle (net/sse_stream.hpp has their contract).
//
// Shutdown. `stop_accepting()` closes the listening socket (new connections
// are refused by the kernel); live connections go on. `shutdown(grace)`
// stops accepting, closes idle keep-alive connections, closes every SSE
// stream (queued events, then the terminator), lets requests in progress
// finish (their replies say `Connection: close`) for up to `grace`, then
// closes whatever is left and joins the I/O threads. A responder or stream
// used after that is ignored (`send` returns false). Idempotent; the
// destructor calls `shutdown(0)` if it was not called.
//
// Logging: spdlog, only what an operator needs (a handler that threw, accept
// failing for lack of file descriptors); nothing per request.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "net/problem.hpp"
#include "net/server_types.hpp"
#include "net/sse_stream.hpp"

namespace troupe::net {

namespace detail {
class connection;
class listener;
struct server_core;
} // namespace detail

/// The one reply to one request. Move-only; exactly one of `reply` and
/// `stream` takes effect (a second call is ignored; a second `stream`
/// returns a closed stream). Destroyed unused, it answers 500
/// internal-error. Either may be called from any thread.
class responder {
public:
  responder(responder&& other) noexcept;
  responder& operator=(responder&& other) noexcept; ///< answers 500 for an unused *this
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder();

  void reply(server_response r);
  /// Starts a `200 text/event-stream` response (Cache-Control: no-cache,
  /// chunked, Connection: close) with `extra` headers (sanitized like a
  /// reply's). Events may be sent at once; they are written after the header.
  std::shared_ptr<sse_stream> stream(header_list extra = {});

  /// Whether `reply` or `stream` was called (or the responder was moved from).
  [[nodiscard]] bool used() const { return used_.load(); }

private:
  friend class detail::connection;
  responder(std::shared_ptr<detail::connection> conn, uint64_t request_no);
  void answer_unused();

  std::shared_ptr<detail::connection> conn_;
  uint64_t request_no_ = 0;
  std::atomic<bool> used_{false};
};

using server_handler = std::function<void(server_request&&, responder)>;

struct http_server_options {
  std::string host = "127.0.0.1"; ///< an address or a name (the first address it resolves to)
  uint16_t port = 0;              ///< 0: an ephemeral port (see `port()`)
  size_t io_threads = 2;          ///< 0 is read as 1
  size_t max_header_bytes = 16 * 1024; ///< request line and header fields
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_connections = 20000; ///< open at once; more are answered 503 and closed
  size_t max_stream_queue_bytes = 1 << 20; ///< per SSE stream, unwritten
  std::chrono::milliseconds sse_keepalive{15000};
};

class http_server {
public:
  /// Binds `host:port`, listens and starts the I/O threads. Errors:
  /// `net_errc::listen_failed` naming host:port and why (in use, no such
  /// address, permission), `net_errc::start_failed` (no thread).
  [[nodiscard]] static caf::expected<std::unique_ptr<http_server>>
  start(http_server_options opts, server_handler handler);

  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (the ephemeral one when the options said 0).
  [[nodiscard]] uint16_t port() const { return port_; }

  /// Closes the listening socket: after it returns, connecting is refused.
  void stop_accepting();

  /// See the contract above. Blocks for at most about `grace`.
  void shutdown(std::chrono::milliseconds grace);

  struct stats_t {
    uint64_t connections = 0; ///< open now (including ones being refused)
    uint64_t streams = 0;     ///< SSE streams open now
    uint64_t requests = 0;    ///< handed to the handler, since start
    uint64_t rejected = 0;    ///< answered by the server itself with a 4xx/5xx refusal, since start
    uint64_t timed_out = 0;   ///< closed by header, body or write timeout, since start
  };
  [[nodiscard]] stats_t stats() const;

private:
  http_server(std::shared_ptr<detail::server_core> core);

  struct work_guard;

  std::shared_ptr<detail::server_core> core_;
  std::shared_ptr<detail::listener> listener_;
  std::unique_ptr<work_guard> work_; ///< keeps the threads running while idle
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::mutex shutdown_mutex_;
  bool shut_down_ = false;
};

} // namespace troupe::net
