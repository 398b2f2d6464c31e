#pragma once
// The HTTP load of `troupe bench serve`: C clients, each a keep-alive
// connection with one request in flight, sending the next as soon as its
// reply is in, on net::http_client (libcurl multi: every connection is a
// transfer on one I/O thread, none has a thread of its own). Also a plain
// request-and-wait for the bench's own bookkeeping calls.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "net/http_client.hpp"

namespace troupe::cli {

struct http_load {
  uint64_t requests = 0;
  uint64_t concurrency = 1; ///< requests in flight (clients)
  /// The i-th request (0..requests-1); called on any thread.
  std::function<net::http_request(uint64_t i)> make;
  /// Whether the i-th reply is what it should be; called on the I/O thread
  /// with the whole body.
  std::function<bool(uint64_t i, int status, const std::string& body)> check;
};

struct load_figures {
  uint64_t ok = 0;
  uint64_t failed = 0;
  double elapsed_s = 0; ///< first request sent to last reply in
  double per_s = 0;     ///< requests / elapsed_s
  double p50_ms = 0, p99_ms = 0;
  std::string first_failure; ///< for the report: status and body, or the error
};

/// Runs `load` on `http` (pool "bench-load") and returns once every request
/// ended. The latency of a request is its submit to its reply's end.
[[nodiscard]] load_figures run_load(net::http_client& http, const http_load& load);

struct http_answer {
  int status = 0; ///< 0: no reply; `error` says why
  std::string body;
  std::string error;
};

/// Sends `req` and waits for its whole reply.
[[nodiscard]] http_answer fetch(net::http_client& http, net::http_request req);

/// A request to `base_url + path` with the bearer `key` (and a JSON body).
[[nodiscard]] net::http_request api_request(const std::string& method,
                                            const std::string& base_url,
                                            const std::string& path, const std::string& key,
                                            std::string body = {});

/// The value at fraction `p` (0..1) of `xs` (reordered), in milliseconds
/// when `xs` holds microseconds.
[[nodiscard]] double percentile_ms(std::vector<int64_t>& xs, double p);

} // namespace troupe::cli
