#include "net/detail/multi_driver.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <string>
#include <system_error>

#include <sys/epoll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "net/net_errc.hpp"

namespace troupe::net::detail {

namespace {

// epoll data of the wakeup descriptor; a socket's is (what << 32 | fd),
// never all ones.
constexpr uint64_t wake_token = ~uint64_t{0};

std::string errno_text(int err) {
  return std::error_code{err, std::generic_category()}.message();
}

} // namespace

caf::error multi_driver::open(size_t max_connections, int wake_fd) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    return caf::make_error(net_errc::start_failed, "epoll_create1: " + errno_text(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_token;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd, &ev) != 0)
    return caf::make_error(net_errc::start_failed,
                           "epoll_ctl on the eventfd: " + errno_text(errno));
  multi_ = curl_multi_init();
  if (multi_ == nullptr)
    return caf::make_error(net_errc::start_failed, "curl_multi_init failed");
  CURLMcode rc = CURLM_OK;
  auto set = [&](CURLMoption opt, auto value) {
    if (rc == CURLM_OK)
      rc = curl_multi_setopt(multi_, opt, value);
  };
  set(CURLMOPT_SOCKETFUNCTION, &multi_driver::on_socket);
  set(CURLMOPT_SOCKETDATA, static_cast<void*>(this));
  set(CURLMOPT_TIMERFUNCTION, &multi_driver::on_timer);
  set(CURLMOPT_TIMERDATA, static_cast<void*>(this));
  // The pools above limit what runs; a per-host limit in libcurl would
  // queue transfers inside libcurl, where their first-byte clock runs.
  set(CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  set(CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  set(CURLMOPT_MAXCONNECTS, static_cast<long>(std::min<size_t>(max_connections, LONG_MAX)));
  if (rc != CURLM_OK)
    return caf::make_error(net_errc::start_failed,
                           std::string{"curl_multi_setopt: "} + curl_multi_strerror(rc));
  return {};
}

multi_driver::~multi_driver() {
  if (multi_ != nullptr)
    curl_multi_cleanup(multi_);
  if (epoll_fd_ >= 0)
    close(epoll_fd_);
}

CURLMcode multi_driver::add(CURL* easy) {
  return curl_multi_add_handle(multi_, easy);
}

CURLMcode multi_driver::remove(CURL* easy) {
  return curl_multi_remove_handle(multi_, easy);
}

multi_driver::wait_result multi_driver::wait(clock_type::time_point deadline) {
  std::array<epoll_event, 256> events;
  int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                     timeout_ms(deadline));
  if (n < 0) {
    if (errno == EINTR)
      return wait_result::events;
    spdlog::error("net: epoll_wait failed: {}", errno_text(errno));
    return wait_result::failed;
  }
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == wake_token)
      woken = true;
    else
      socket_event(events[i].data.u64, events[i].events);
  }
  if (clock_type::now() >= curl_deadline_)
    act_on_timeout();
  return woken ? wait_result::woken : wait_result::events;
}

int multi_driver::timeout_ms(clock_type::time_point deadline) const {
  deadline = std::min(deadline, curl_deadline_);
  if (deadline == clock_type::time_point::max())
    return -1;
  auto now = clock_type::now();
  if (deadline <= now)
    return 0;
  // Rounded up: waking a little late is fine, waking early spins.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
  return static_cast<int>(std::min<int64_t>((us + 999) / 1000, INT_MAX));
}

void multi_driver::take_done(const std::function<void(CURL*, CURLcode)>& done) {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    // Copied out: removing the handle (which `done` does) invalidates msg.
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    done(easy, result);
  }
}

void multi_driver::socket_event(uint64_t data, uint32_t events) {
  auto fd = static_cast<curl_socket_t>(data & 0xffffffffu);
  auto wanted = static_cast<int>(data >> 32);
  int flags = 0;
  if ((events & EPOLLIN) != 0)
    flags |= CURL_CSELECT_IN;
  if ((events & EPOLLOUT) != 0)
    flags |= CURL_CSELECT_OUT;
  // An error or hangup: let libcurl read or write as it wanted, so it meets
  // the errno itself (ECONNRESET, ECONNREFUSED) and says which.
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    if ((wanted & CURL_POLL_IN) != 0)
      flags |= CURL_CSELECT_IN;
    if ((wanted & CURL_POLL_OUT) != 0)
      flags |= CURL_CSELECT_OUT;
    if (flags == 0)
      flags = CURL_CSELECT_ERR;
  }
  int running = 0;
  auto rc = curl_multi_socket_action(multi_, fd, flags, &running);
  // CURLM_BAD_SOCKET: an event for a socket libcurl closed earlier in the
  // same batch of events; nothing to do.
  if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET)
    spdlog::error("net: curl_multi_socket_action: {}", curl_multi_strerror(rc));
}

void multi_driver::act_on_timeout() {
  curl_deadline_ = clock_type::time_point::max();
  int running = 0;
  if (auto rc = curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      rc != CURLM_OK)
    spdlog::error("net: curl_multi_socket_action: {}", curl_multi_strerror(rc));
}

int multi_driver::on_socket(CURL*, curl_socket_t s, int what, void* self, void* socketp) {
  auto* d = static_cast<multi_driver*>(self);
  if (what == CURL_POLL_REMOVE) {
    // Fails only when the socket is already closed, which drops it from the
    // epoll set by itself.
    epoll_ctl(d->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.events = ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) |
              ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
  ev.data.u64 = (static_cast<uint64_t>(static_cast<uint32_t>(what)) << 32) |
                static_cast<uint32_t>(s);
  // socketp marks a socket already in the set (curl_multi_assign below).
  int op = socketp != nullptr ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(d->epoll_fd_, op, s, &ev) != 0) {
    int other = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(d->epoll_fd_, other, s, &ev) != 0)
      spdlog::error("net: epoll_ctl on socket {}: {}", s, errno_text(errno));
  }
  if (socketp == nullptr)
    curl_multi_assign(d->multi_, s, d);
  return 0;
}

int multi_driver::on_timer(CURLM*, long timeout_ms, void* self) {
  // Only noted: libcurl must not be re-entered from its own callback.
  auto* d = static_cast<multi_driver*>(self);
  d->curl_deadline_ = timeout_ms < 0
                        ? clock_type::time_point::max()
                        : clock_type::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

} // namespace troupe::net::detail
