#include "net/http_server.hpp"

#include <exception>
#include <optional>
#include <system_error>

#include <boost/asio/executor_work_guard.hpp>
#include <spdlog/spdlog.h>

#include "net/detail/listener.hpp"
#include "net/detail/server_connection.hpp"
#include "net/detail/server_core.hpp"
#include "net/net_errc.hpp"

namespace troupe::net {

namespace {

void run_io(detail::server_core& core) {
  for (;;) {
    try {
      core.ioc.run();
      return;
    } catch (const std::exception& e) { // our handlers catch the user's; this is Asio's or Beast's
      spdlog::error("http server: an I/O handler threw: {}", e.what());
    }
  }
}

} // namespace

struct http_server::work_guard {
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
};

http_server::http_server(std::shared_ptr<detail::server_core> core) : core_(std::move(core)) {
}

caf::expected<std::unique_ptr<http_server>> http_server::start(http_server_options opts,
                                                                server_handler handler) {
  if (opts.io_threads == 0)
    opts.io_threads = 1;
  auto core = std::make_shared<detail::server_core>(std::move(opts), std::move(handler));
  auto listening = detail::listener::open(core);
  if (!listening)
    return std::move(listening.error());
  std::unique_ptr<http_server> server{new http_server(core)};
  server->listener_ = std::move(*listening);
  server->port_ = server->listener_->port();
  server->work_ = std::make_unique<work_guard>(work_guard{boost::asio::make_work_guard(core->ioc)});
  server->listener_->start();
  try {
    for (size_t i = 0; i < core->opts.io_threads; ++i)
      server->threads_.emplace_back([core] { run_io(*core); });
  } catch (const std::system_error& e) {
    return caf::make_error(net_errc::start_failed,
                           std::string{"http server: cannot start an I/O thread: "} + e.what());
  } // ~http_server shuts down what started
  return server;
}

http_server::~http_server() {
  shutdown(std::chrono::milliseconds{0});
}

void http_server::stop_accepting() {
  listener_->stop();
}

void http_server::shutdown(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock{shutdown_mutex_};
  if (shut_down_)
    return;
  shut_down_ = true;
  core_->shutting_down.store(true);
  listener_->stop();
  for (auto& c : core_->live())
    c->post_shutdown();
  core_->wait_all_closed(std::chrono::steady_clock::now() + grace);
  // Whatever is left is dropped: nothing new enters the io_context, the
  // threads end, then the remaining connections close here and one last
  // run releases the operations their closing cancelled.
  core_->stop_posts();
  work_.reset();
  core_->ioc.stop();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  for (auto& c : core_->live())
    c->close_after_stop();
  core_->ioc.restart();
  core_->ioc.run_for(std::chrono::seconds(1));
}

http_server::stats_t http_server::stats() const {
  stats_t s;
  s.connections = core_->open.load();
  s.streams = core_->streams.load();
  s.requests = core_->requests.load();
  s.rejected = core_->rejected.load();
  s.timed_out = core_->timed_out.load();
  return s;
}

} // namespace troupe::net
