#pragma once
// What the HTTP client tests hear from one request: every callback, in
// order, with a condition variable to wait for `on_done` on (no sleeps).

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "net/http_client.hpp"

// Boost.Test prints the operands of a failed check.
namespace troupe::net {
inline std::ostream& operator<<(std::ostream& os, transport_error e) {
  return os << to_string(e);
}
inline std::ostream& operator<<(std::ostream& os, timeout_kind k) {
  return os << to_string(k);
}
inline std::ostream& operator<<(std::ostream& os, connection_error c) {
  return os << to_string(c);
}
} // namespace troupe::net

namespace troupe::test {

struct recorder {
  mutable std::mutex mu;
  std::condition_variable cv;
  int headers_calls = 0;
  int status = 0;
  net::http_headers headers;
  std::vector<std::string> chunks;
  std::vector<net::http_outcome> done; ///< more than one would be a bug
  /// `on_data` answers abort once this many chunks arrived (0: never).
  size_t abort_after_chunks = 0;

  [[nodiscard]] std::string body() const {
    std::lock_guard<std::mutex> guard{mu};
    std::string all;
    for (const auto& c : chunks)
      all += c;
    return all;
  }
  [[nodiscard]] size_t chunk_count() const {
    std::lock_guard<std::mutex> guard{mu};
    return chunks.size();
  }
  [[nodiscard]] size_t done_count() const {
    std::lock_guard<std::mutex> guard{mu};
    return done.size();
  }
  /// The outcome, once `on_done` ran (fails the wait after `timeout`).
  [[nodiscard]] bool wait_done(std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, timeout, [&] { return !done.empty(); });
  }
  [[nodiscard]] bool wait_chunks(size_t n,
                                 std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, timeout, [&] { return chunks.size() >= n; });
  }
  [[nodiscard]] net::http_outcome outcome() const {
    std::lock_guard<std::mutex> guard{mu};
    return done.empty() ? net::http_outcome{} : done.front();
  }
};

/// Callbacks that record into `r` (kept alive by the callbacks).
inline net::http_callbacks record_into(const std::shared_ptr<recorder>& r) {
  net::http_callbacks cb;
  cb.on_headers = [r](int status, const net::http_headers& headers) {
    std::lock_guard<std::mutex> guard{r->mu};
    ++r->headers_calls;
    r->status = status;
    r->headers = headers;
    return net::http_action::proceed;
  };
  cb.on_data = [r](std::string_view chunk) {
    std::lock_guard<std::mutex> guard{r->mu};
    r->chunks.emplace_back(chunk);
    r->cv.notify_all();
    return r->abort_after_chunks != 0 && r->chunks.size() >= r->abort_after_chunks
             ? net::http_action::abort
             : net::http_action::proceed;
  };
  cb.on_done = [r](net::http_outcome out) {
    std::lock_guard<std::mutex> guard{r->mu};
    r->done.push_back(std::move(out));
    r->cv.notify_all();
  };
  return cb;
}

/// Counts `on_done` over many requests.
struct done_counter {
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  size_t ok = 0;
  std::vector<net::http_outcome> failures;

  [[nodiscard]] net::http_callbacks callbacks() {
    net::http_callbacks cb;
    cb.on_done = [this](net::http_outcome out) {
      std::lock_guard<std::mutex> guard{mu};
      ++done;
      if (out.ok() && out.status == 200)
        ++ok;
      else
        failures.push_back(std::move(out));
      cv.notify_all();
    };
    return cb;
  }
  [[nodiscard]] bool wait_for(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, timeout, [&] { return done >= n; });
  }
};

} // namespace troupe::test
