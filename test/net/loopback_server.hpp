#pragma once
// A real HTTP/1.1 server on 127.0.0.1 for tests and benchmarks (Boost.Asio).
// It binds an ephemeral port; each request is answered by the handler of
// its path, which returns a plan: status, headers, the body as chunks with a
// delay before each, and how the reply ends (properly, a stall, a reset, a
// close). The server counts what a client's behaviour proves: connections
// accepted (keep-alive reuse), requests being answered at once (concurrency
// limits), and connections the client closed while a reply was in progress
// (cancellation closes the socket).
//
// Thread safety: `on`, `stats` and `wait_until` may be called from any
// thread while the server runs; handlers run on the server's threads (one
// by default) and must not block: delays belong in the plan.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace troupe::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct received_request {
  std::string method;
  std::string target;  ///< as sent, with any query
  std::string path;    ///< the target without the query
  header_list headers; ///< names lower-cased
  std::string body;
  uint64_t connection = 0; ///< 1, 2, ... in accept order
};

struct reply_chunk {
  std::chrono::milliseconds delay{0}; ///< before this chunk is written
  std::string data;
  /// Written instead of `data` when set: a payload rendered once and shared
  /// by every reply, so a benchmark's server copies nothing per request.
  std::shared_ptr<const std::string> shared;
};

/// How long the server took over one reply, by its own clock.
struct reply_timing {
  std::chrono::steady_clock::time_point received; ///< the whole request was read
  std::chrono::steady_clock::time_point ended;    ///< the reply ended (see `complete`)
  /// The last byte was written; else the reply ended otherwise (a planned
  /// fault, or the client went away).
  bool complete = false;
};

enum class reply_end : uint8_t {
  complete, ///< the reply is whole; the connection serves the next request
  stall,    ///< nothing more is sent; the connection stays until the client goes
  reset,    ///< the connection is reset (RST)
  close,    ///< the connection is closed (FIN) before the reply is whole
};

struct reply_plan {
  int status = 200;
  header_list headers; ///< Content-Length / Transfer-Encoding are added
  std::chrono::milliseconds headers_delay{0}; ///< before the status line
  bool stall_before_headers = false;          ///< then send nothing at all
  /// Transfer-Encoding: chunked, one HTTP chunk per `chunks` entry; else
  /// Content-Length (the sum), the pieces still written with their delays.
  bool chunked = true;
  std::vector<reply_chunk> chunks;
  /// Before the end: the terminating chunk, or the stall, reset or close
  /// (so that a client has read the chunks before the reset arrives).
  std::chrono::milliseconds end_delay{0};
  reply_end end = reply_end::complete;
  /// Called once on a server thread when the reply ends, however it ends
  /// (a benchmark subtracts the server's own time from the client's).
  std::function<void(const reply_timing&)> on_end;
};

/// A whole body at once, with Content-Length.
[[nodiscard]] reply_plan plain_reply(int status, std::string body,
                                     std::string content_type = "text/plain");
/// `pieces` as chunks: the first after `first_delay`, each next after `gap`.
[[nodiscard]] reply_plan streamed_reply(std::vector<std::string> pieces,
                                        std::chrono::milliseconds first_delay,
                                        std::chrono::milliseconds gap);

using request_handler = std::function<reply_plan(const received_request&)>;

struct server_stats {
  uint64_t accepted = 0;       ///< connections accepted
  uint64_t requests = 0;       ///< requests whose handler ran
  uint64_t replies_done = 0;   ///< replies that ended `complete`
  uint64_t client_aborts = 0;  ///< connections the client closed or reset
                               ///< while a reply was in progress
  uint64_t client_closes = 0;  ///< connections the client closed at any time
  uint64_t in_flight = 0;      ///< requests being answered now
  uint64_t max_in_flight = 0;  ///< the most at once (see reset_max_in_flight)
};

class loopback_server {
public:
  /// Binds 127.0.0.1:0 and starts `threads` server threads. Throws
  /// std::system_error when it cannot bind (a test cannot go on anyway).
  explicit loopback_server(size_t threads = 1);
  /// Stops the threads and drops every connection.
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  [[nodiscard]] std::string url(std::string_view path) const;

  /// Answers requests for `path` (without query) with `h`; other paths get
  /// 404. Replaces an earlier handler of the same path.
  void on(std::string path, request_handler h);

  [[nodiscard]] server_stats stats() const;
  /// Waits until `pred(stats())` holds, or `timeout` passes; returns the
  /// last answer of `pred`.
  bool wait_until(const std::function<bool(const server_stats&)>& pred,
                  std::chrono::milliseconds timeout) const;
  void reset_max_in_flight();

private:
  class connection;
  struct impl;
  friend class connection;

  [[nodiscard]] request_handler handler_for(const std::string& path) const;
  void update(const std::function<void(server_stats&)>& change);

  std::unique_ptr<impl> impl_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  server_stats stats_;
  std::map<std::string, request_handler> handlers_;
  std::vector<std::thread> threads_;
};

} // namespace troupe::test
