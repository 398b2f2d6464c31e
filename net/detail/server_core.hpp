#pragma once
// What the HTTP server (net/http_server.hpp), its listener and every
// connection share: the options, the handler, the io_context, the counters,
// and the registry of open connections that shutdown walks.
//
// Posting from outside. Responders and SSE streams may be used from any
// thread, also after the server stopped; they post to their connection's
// strand through `post`, which drops the work once `stop_posts` was called.
// So after shutdown nothing enters the io_context again, and its queue,
// drained once by shutdown, holds no connection alive.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "net/http_server.hpp"

namespace troupe::net::detail {

class connection;

struct server_core {
  server_core(http_server_options o, server_handler h)
    : opts(std::move(o)), handler(std::move(h)),
      ioc(static_cast<int>(opts.io_threads)) {
  }

  const http_server_options opts;
  const server_handler handler;
  boost::asio::io_context ioc;

  std::atomic<uint64_t> open{0}; ///< connections registered and not closed
  std::atomic<uint64_t> streams{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<bool> shutting_down{false};

  /// Posts `f` to `ex` unless posting has stopped (then `f` is destroyed,
  /// outside the lock, and the answer is false).
  template <class F>
  bool post(const boost::asio::any_io_executor& ex, F&& f) {
    std::unique_lock<std::mutex> lock{mutex_};
    if (stopped_) {
      lock.unlock();
      [[maybe_unused]] auto dropped = std::forward<F>(f);
      return false;
    }
    boost::asio::post(ex, std::forward<F>(f));
    return true;
  }
  void stop_posts() {
    std::lock_guard<std::mutex> lock{mutex_};
    stopped_ = true;
  }

  // -- the registry ---------------------------------------------------------
  void add(uint64_t id, std::weak_ptr<connection> c) {
    std::lock_guard<std::mutex> lock{mutex_};
    registry_.emplace(id, std::move(c));
    open.fetch_add(1);
  }
  /// Called once per connection, when it closes.
  void remove(uint64_t id) {
    std::lock_guard<std::mutex> lock{mutex_};
    if (registry_.erase(id) != 0 && open.fetch_sub(1) == 1)
      all_closed_.notify_all();
  }
  [[nodiscard]] std::vector<std::shared_ptr<connection>> live() {
    std::vector<std::shared_ptr<connection>> out;
    std::lock_guard<std::mutex> lock{mutex_};
    out.reserve(registry_.size());
    for (auto& [id, weak] : registry_)
      if (auto c = weak.lock())
        out.push_back(std::move(c));
    return out;
  }
  /// Waits until no connection is open, or `deadline`; true when none is.
  bool wait_all_closed(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    return all_closed_.wait_until(lock, deadline, [&] { return registry_.empty(); });
  }

private:
  std::mutex mutex_;
  std::condition_variable all_closed_;
  bool stopped_ = false;
  std::unordered_map<uint64_t, std::weak_ptr<connection>> registry_;
};

} // namespace troupe::net::detail
