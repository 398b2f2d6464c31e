#include "net/detail/listener.hpp"

#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "net/detail/server_connection.hpp"
#include "net/net_errc.hpp"

namespace troupe::net::detail {

namespace asio = boost::asio;

namespace {

// Accept failures that clear up by themselves once connections close.
bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space
         || ec == asio::error::no_memory
         || ec == boost::system::error_code{ENFILE, boost::system::system_category()};
}

} // namespace

listener::listener(std::shared_ptr<server_core> core)
  : core_(std::move(core)), acceptor_(asio::make_strand(core_->ioc)),
    backoff_(acceptor_.get_executor()) {
}

caf::expected<std::shared_ptr<listener>> listener::open(std::shared_ptr<server_core> core) {
  const auto& o = core->opts;
  std::string where = o.host + ":" + std::to_string(o.port);
  auto fail = [&](std::string_view step, const error_code& ec) {
    return caf::make_error(net_errc::listen_failed,
                           "cannot listen on " + where + ": " + std::string{step} + ": "
                             + ec.message());
  };
  std::shared_ptr<listener> l{new listener(std::move(core))};
  error_code ec;
  tcp::resolver resolver{l->core_->ioc};
  auto found = resolver.resolve(o.host, std::to_string(o.port),
                                tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec)
    return fail("resolve", ec);
  if (found.empty())
    return fail("resolve", asio::error::host_not_found);
  auto endpoint = found.begin()->endpoint();
  l->acceptor_.open(endpoint.protocol(), ec);
  if (ec)
    return fail("socket", ec);
  l->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec)
    return fail("SO_REUSEADDR", ec);
  l->acceptor_.bind(endpoint, ec);
  if (ec)
    return fail("bind", ec);
  l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen", ec);
  l->port_ = l->acceptor_.local_endpoint(ec).port();
  if (ec)
    return fail("getsockname", ec);
  return l;
}

void listener::start() {
  std::lock_guard<std::mutex> lock{mutex_};
  accept_next();
}

void listener::stop() {
  std::lock_guard<std::mutex> lock{mutex_};
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void listener::accept_next() {
  acceptor_.async_accept(asio::make_strand(core_->ioc),
                         [self = shared_from_this()](error_code ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void listener::on_accept(error_code ec, tcp::socket socket) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopped_)
    return;
  if (ec == asio::error::operation_aborted)
    return;
  if (out_of_resources(ec)) {
    // Accepting again at once would spin; wait for connections to close.
    auto now = std::chrono::steady_clock::now();
    if (now - last_warning_ > std::chrono::seconds(10)) {
      last_warning_ = now;
      spdlog::warn("http server: cannot accept on port {}: {} (retrying every 50 ms)", port_,
                   ec.message());
    }
    backoff_.expires_after(std::chrono::milliseconds(50));
    backoff_.async_wait([self = shared_from_this()](error_code wait_ec) {
      std::lock_guard<std::mutex> lock{self->mutex_};
      if (!wait_ec && !self->stopped_)
        self->accept_next();
    });
    return;
  }
  if (!ec) { // else that one connection failed (reset before accept): go on
    bool overloaded = core_->open.load() >= core_->opts.max_connections;
    std::make_shared<connection>(core_, std::move(socket), ++next_id_, overloaded)->start();
  }
  accept_next();
}

} // namespace troupe::net::detail
