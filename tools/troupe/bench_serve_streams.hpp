#pragma once
// The SSE subscribers of `troupe bench serve`: S concurrent
// `GET /v1/runs/{id}/events` streams of one run, held open on one
// net::http_client I/O thread (libcurl multi over epoll: a thousand
// streams are a thousand sockets and easy handles, not threads), each read
// incrementally as it arrives. libcurl rather than raw Asio sockets because
// the server's streams are chunked: libcurl decodes the framing, so a
// subscriber sees exactly the bytes a browser's EventSource would.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/http_client.hpp"

namespace troupe::cli {

/// What the subscribers saw, once every stream ended.
struct fanout_figures {
  uint64_t complete = 0; ///< streams with every event once, in seq order, ending with completion
  uint64_t failed = 0;   ///< the others
  uint64_t events_per_stream = 0; ///< of the first complete stream
  std::string first_failure;
  /// From `mark()` to the last stream's completion event, in milliseconds.
  double mark_to_last_completion_ms = 0;
};

class sse_fanout {
public:
  /// Streams of `base_url + path` with the bearer `key`, on `http`.
  sse_fanout(net::http_client& http, std::string base_url, std::string path, std::string key);
  ~sse_fanout();
  sse_fanout(const sse_fanout&) = delete;
  sse_fanout& operator=(const sse_fanout&) = delete;

  /// Opens `count` streams at once, counting those that receive an event
  /// of kind `watch` (see wait_all_saw). Call once.
  void open(uint64_t count, std::string watch);

  /// Waits until every stream has received an event of the watched kind or
  /// has ended; false on timeout. How many received it goes to `reached`.
  bool wait_all_saw(std::chrono::milliseconds timeout, uint64_t& reached);
  /// The moment mark_to_last_completion_ms counts from (the approval).
  void mark();
  /// Waits until every stream ended; false on timeout.
  bool wait_all_ended(std::chrono::milliseconds timeout);
  /// Cancels the streams still open (after a timeout).
  void cancel_all();

  /// Call after wait_all_ended.
  [[nodiscard]] fanout_figures summarize();

  struct stream;

private:
  void on_event(stream& s, const std::string& id, const std::string& kind);
  void on_end(stream& s, const net::http_outcome& o);

  net::http_client& http_;
  std::string url_, key_;
  std::vector<std::unique_ptr<stream>> streams_;
  std::vector<net::request_handle> handles_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::string watch_;
  uint64_t saw_watched_ = 0;
  uint64_t ended_ = 0;
  std::chrono::steady_clock::time_point mark_, last_completion_;
};

} // namespace troupe::cli
