#pragma once
// libcurl's multi handle driven from an epoll set through
// curl_multi_socket_action: libcurl says which sockets it wants watched
// (CURLMOPT_SOCKETFUNCTION) and when it wants time (CURLMOPT_TIMERFUNCTION);
// the driver waits on epoll and hands libcurl exactly the sockets that are
// ready. One more descriptor, the I/O loop's wakeup eventfd, sits in the
// same set. Used by one thread only (net/detail/io_loop.hpp).
//
// Why not curl_multi_poll/curl_multi_perform: perform visits every transfer
// on each call (and polls each one's socket), so with 1,000 streams each
// chunk received costs a walk over all 1,000; socket_action costs only the
// sockets that are ready.

#include <chrono>
#include <cstddef>
#include <functional>

#include <caf/error.hpp>
#include <curl/curl.h>

namespace troupe::net::detail {

class multi_driver {
public:
  using clock_type = std::chrono::steady_clock;

  enum class wait_result : uint8_t {
    events,   ///< libcurl acted on what was ready (perhaps nothing)
    woken,    ///< the same, and the wakeup descriptor fired
    failed,   ///< epoll_wait failed: a bug of ours (a bad descriptor)
  };

  multi_driver() = default;
  ~multi_driver(); // closes every connection libcurl kept alive
  multi_driver(const multi_driver&) = delete;
  multi_driver& operator=(const multi_driver&) = delete;

  /// Creates the multi handle and the epoll set and adds `wake_fd` to it.
  /// Errors: `net_errc::start_failed`, naming the step.
  [[nodiscard]] caf::error open(size_t max_connections, int wake_fd);

  [[nodiscard]] CURLMcode add(CURL* easy);
  /// Removing a transfer that has not ended closes its connection.
  [[nodiscard]] CURLMcode remove(CURL* easy);

  /// Waits for socket events, libcurl's own timer, or `deadline`, whichever
  /// comes first, and lets libcurl act on what is due.
  [[nodiscard]] wait_result wait(clock_type::time_point deadline);

  /// Calls `done(easy, result)` for each transfer libcurl ended since the
  /// last call. `done` may add and remove handles.
  void take_done(const std::function<void(CURL*, CURLcode)>& done);

private:
  void socket_event(uint64_t data, uint32_t events);
  void act_on_timeout();
  [[nodiscard]] int timeout_ms(clock_type::time_point deadline) const;

  static int on_socket(CURL* easy, curl_socket_t s, int what, void* self, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* self);

  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  clock_type::time_point curl_deadline_ = clock_type::time_point::max();
};

} // namespace troupe::net::detail
