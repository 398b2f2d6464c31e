#pragma once
// The server of `troupe bench gateway`: an OpenAI-compatible Chat
// Completions endpoint on a loopback port (test/net/loopback_server.hpp, on
// threads of its own) that answers every POST /v1/chat/completions with the
// same stream, in exactly the shape of the real API:
//
//   data: {... "choices":[{"index":0,"delta":{"role":"assistant","content":""},...}]}
//   data: {... "delta":{"content":" word"} ...}            K times
//   data: {... "delta":{},"finish_reason":"stop"}]}
//   data: {... "choices":[],"usage":{...}}
//   data: [DONE]
//
// The headers go out at once; the first event after `first_chunk_ms`, each
// content delta `chunk_gap_ms` after the one before. With no gap the whole
// stream is one write. The events are rendered once, at start, and shared by
// every reply: the server's cost per request is its framing and writes.
//
// Each request names its number in its user message ("bench request N"); the
// server records how long it took over that request by its own clock, from
// the whole request read to the last byte written, so the benchmark can
// subtract it from what the client saw.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "test/net/loopback_server.hpp"

namespace troupe::cli {

struct stream_shape {
  uint32_t first_chunk_ms = 50; ///< before the first event
  uint32_t chunks = 20;         ///< content deltas
  uint32_t chunk_gap_ms = 0;    ///< before each content delta
  /// What the server takes per request, by the plan: the first delay and
  /// every gap.
  [[nodiscard]] double nominal_ms() const {
    return first_chunk_ms + static_cast<double>(chunks) * chunk_gap_ms;
  }
};

class bench_stream_server {
public:
  /// Starts `threads` server threads; requests numbered 0..max_requests-1
  /// are timed. Throws std::system_error when it cannot bind.
  bench_stream_server(stream_shape shape, size_t threads, uint64_t max_requests);

  /// "http://127.0.0.1:PORT/v1", an OpenAI base URL.
  [[nodiscard]] std::string base_url() const;
  /// The marker the user message carries before the request's number.
  static constexpr const char* marker = "bench request ";

  /// The server's own time over request `id` in microseconds; 0 while it
  /// has not ended (or never came).
  [[nodiscard]] uint64_t server_us(uint64_t id) const;
  /// Waits until `n` replies have ended (or `timeout` passes).
  bool wait_for_replies(uint64_t n, std::chrono::milliseconds timeout) const;
  /// Waits until every connection accepted so far has been closed (or
  /// `timeout` passes): a phase's memory is freed before the next one.
  bool wait_for_no_connections(std::chrono::milliseconds timeout) const;
  /// Requests answered with an error (no number, or one out of range).
  [[nodiscard]] uint64_t refused() const { return refused_.load(); }

private:
  test::reply_plan plan_for(const test::received_request& req);

  stream_shape shape_;
  uint64_t max_requests_;
  /// The rendered events: one string holding them all without gaps, or
  /// role, each content delta, and the tail (finish, usage, [DONE]).
  std::vector<std::shared_ptr<const std::string>> pieces_;
  std::unique_ptr<std::atomic<uint64_t>[]> server_us_;
  std::atomic<uint64_t> refused_{0};
  test::loopback_server server_; ///< last: its threads stop first
};

} // namespace troupe::cli
