#pragma once
// One I/O thread of the HTTP client (net/http_client.hpp): a libcurl multi
// handle with its epoll set (net/detail/multi_driver.hpp), the pools whose
// requests it runs, the first-byte and idle timeouts, and a queue other
// threads push commands onto (an eventfd in the epoll set wakes the thread).
//
// Everything but `push_*`, `pending` and the constructor/`stop_and_join` is
// the loop thread's alone.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>
#include <curl/curl.h>

#include "net/detail/multi_driver.hpp"
#include "net/detail/transfer.hpp"
#include "net/http_client.hpp"

namespace troupe::net::detail {

class io_loop {
public:
  /// Creates the multi handle, the epoll set and the eventfd, and starts
  /// the thread. Errors: `net_errc::start_failed`.
  [[nodiscard]] static caf::expected<std::unique_ptr<io_loop>>
  start(const http_client_config& cfg);

  ~io_loop(); // stop_and_join(), then frees what is left
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  /// Queues a request (any thread). `pending` counts it at once.
  void push_submit(uint64_t id, http_request req, http_callbacks cb,
                   clock_type::time_point submitted);
  /// Queues a cancel (any thread).
  void push_cancel(uint64_t id);
  /// Asks the thread to cancel everything and end (any thread but its own).
  void push_stop();
  /// Waits for the thread to end.
  void join();
  /// After `join`: answers whatever was queued meanwhile (submits from
  /// callbacks of other loops) with `canceled`, on the calling thread.
  /// Returns whether there was anything.
  bool drain_after_join();

  [[nodiscard]] size_t pending() const { return pending_.load(std::memory_order_relaxed); }

private:
  struct command {
    enum class kind : uint8_t { submit, cancel, stop } what;
    uint64_t id = 0;
    std::unique_ptr<transfer> t; ///< submit only
  };
  struct pool_state {
    uint32_t limit = 64;
    uint32_t running = 0;
    std::deque<uint64_t> waiting; ///< ids; canceled ones are skipped
  };

  explicit io_loop(const http_client_config& cfg);
  [[nodiscard]] caf::error open();
  void push(command c);
  void run();
  void take_commands();
  void on_submit(std::unique_ptr<transfer> t);
  void on_cancel(uint64_t id, const char* why);
  void on_stop();
  void start_waiting(const std::string& pool);
  void read_done();
  void expire_timeouts(clock_type::time_point now);
  /// Ends `t` (removing its easy handle first when it runs), frees it, runs
  /// `on_done`, and starts the next waiting request of its pool.
  void finish(uint64_t id, http_outcome outcome);

  http_client_config cfg_;
  int wake_fd_ = -1;
  multi_driver driver_;
  std::thread thread_;

  std::mutex queue_mu_;
  std::vector<command> queue_; ///< guarded by queue_mu_
  std::atomic<size_t> pending_{0};

  // The loop thread's state.
  std::unordered_map<uint64_t, std::unique_ptr<transfer>> transfers_; ///< queued + running
  std::unordered_map<std::string, pool_state> pools_;
  /// No first-byte or idle deadline passes before this: the loop scans its
  /// transfers only then (see transfer::deadline).
  clock_type::time_point next_scan_ = clock_type::time_point::max();
  bool stopping_ = false;
};

} // namespace troupe::net::detail
