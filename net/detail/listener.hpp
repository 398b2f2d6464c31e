#pragma once
// The listening socket of the HTTP server (net/http_server.hpp) and its
// accept loop, on a strand of the server's io_context. Each accepted socket
// gets a strand and a `connection`; one past `max_connections` is a
// connection that answers 503 and closes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/expected.hpp>

#include "net/detail/server_core.hpp"

namespace troupe::net::detail {

class listener : public std::enable_shared_from_this<listener> {
public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  /// Resolves, binds and listens. Errors: `net_errc::listen_failed`.
  [[nodiscard]] static caf::expected<std::shared_ptr<listener>>
  open(std::shared_ptr<server_core> core);

  [[nodiscard]] uint16_t port() const { return port_; }
  void start();
  /// Closes the listening socket (any thread, synchronous): once it returns,
  /// the kernel refuses new connections and every accepted one is started.
  void stop();

private:
  explicit listener(std::shared_ptr<server_core> core);
  void accept_next(); // with mutex_ held
  void on_accept(error_code ec, tcp::socket socket);

  std::shared_ptr<server_core> core_;
  tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::mutex mutex_; ///< the acceptor is used from I/O threads and from stop()
  bool stopped_ = false;
  uint16_t port_ = 0;
  uint64_t next_id_ = 0;
  std::chrono::steady_clock::time_point last_warning_{};
};

} // namespace troupe::net::detail
