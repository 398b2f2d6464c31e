#include "serve/service.hpp"

#include <thread>

#include "serve/api.hpp"
#include "serve/event_hub.hpp"
#include "serve/metrics_hub.hpp"
#include "serve/submission_writer.hpp"
#include "serve/tenant_directory.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve {

// Members in start order. Stopped in the order ~service spells out: the
// server (no new requests), the API's workers, the submission writer (whose
// last commits call back into both), then the queue.
struct service::impl {
  explicit impl(runtime& r, service_options o) : rt(r), opts(std::move(o)) {}
  runtime& rt;
  service_options opts;
  std::unique_ptr<scenario_catalog> catalog;
  std::vector<catalog_problem> problems;
  std::unique_ptr<tenant_directory> tenants;
  std::unique_ptr<metrics_hub> metrics; ///< outlives the hub and the dispatcher that feed it
  std::unique_ptr<event_hub> hub;
  std::unique_ptr<submission_writer> writer;
  std::unique_ptr<job_dispatcher> dispatcher;
  std::unique_ptr<api> routes;
  std::unique_ptr<net::http_server> server;
};

service::service(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

service::~service() {
  auto& p = *impl_;
  if (p.server)
    p.server->shutdown(std::chrono::seconds{2});
  p.server.reset();
  if (p.routes)
    p.routes->join();
  p.writer.reset(); // its last commits call back into the API and the dispatcher
  p.routes.reset();
  p.dispatcher.reset();
}

caf::expected<std::unique_ptr<service>> service::start(runtime& rt, service_options opts) {
  auto p = std::make_unique<impl>(rt, std::move(opts));
  p->catalog = std::make_unique<scenario_catalog>(
    p->opts.scenarios_dir, [&rt](const std::string& path) { return rt.load_scenario(path); });
  auto problems = p->catalog->reload();
  if (!problems)
    return std::move(problems.error());
  p->problems = std::move(*problems);
  auto tenants = tenant_directory::open(p->opts.db_path);
  if (!tenants)
    return std::move(tenants.error());
  p->tenants = std::move(*tenants);
  event_observer observer;
  if (!p->opts.metrics_token.empty()) {
    auto metrics = metrics_hub::open(p->opts.db_path);
    if (!metrics)
      return std::move(metrics.error());
    p->metrics = std::move(*metrics);
    auto* m = p->metrics.get();
    observer = [m](const persistence::feed_event& e) { m->on_event(e); };
    p->opts.dispatch.on_job = [m](metrics::job_note what, const jobs::job& j) {
      m->on_job(what, j);
    };
  }
  auto hub = event_hub::start(p->opts.db_path, std::chrono::milliseconds{20}, std::move(observer));
  if (!hub)
    return std::move(hub.error());
  p->hub = std::move(*hub);
  auto writer = submission_writer::start(p->opts.db_path);
  if (!writer)
    return std::move(writer.error());
  p->writer = std::move(*writer);
  p->opts.dispatch.db_path = p->opts.db_path;
  auto* dir = p->tenants.get();
  auto dispatcher = job_dispatcher::create(
    rt, *p->catalog, *p->hub, [dir](const std::string& t) { return dir->settings(t); },
    p->opts.dispatch);
  if (!dispatcher)
    return std::move(dispatcher.error());
  p->dispatcher = std::move(*dispatcher);
  if (auto err = p->dispatcher->recover())
    return err;
  p->dispatcher->start();
  api_deps deps{rt,          *p->catalog,       *p->dispatcher, *p->hub,
                *p->tenants, *p->writer,        p->opts.db_path, p->opts.max_queued,
                p->opts.workers, {}};
  auto* d = p->dispatcher.get();
  deps.journal_writable = [d] { return d->writes_ok(); };
  deps.metrics = p->metrics.get();
  deps.metrics_token = p->opts.metrics_token;
  deps.run_concurrency = p->opts.dispatch.global_concurrency;
  p->routes = std::make_unique<api>(std::move(deps));
  auto* routes = p->routes.get();
  auto server = net::http_server::start(
    p->opts.http, [routes](net::server_request&& req, net::responder res) {
      routes->handle(std::move(req), std::move(res));
    });
  if (!server)
    return std::move(server.error());
  p->server = std::move(*server);
  return std::unique_ptr<service>(new service(std::move(p)));
}

uint16_t service::port() const {
  return impl_->server->port();
}

std::vector<std::string> service::scenario_names() const {
  return impl_->catalog->names();
}

const std::vector<catalog_problem>& service::load_problems() const {
  return impl_->problems;
}

caf::expected<std::vector<catalog_problem>> service::reload() {
  return impl_->catalog->reload();
}

size_t service::drain(std::chrono::milliseconds grace) {
  auto& p = *impl_;
  p.server->stop_accepting();
  p.dispatcher->stop_starting();
  auto until = std::chrono::steady_clock::now() + grace;
  while (p.dispatcher->running() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  p.server->shutdown(std::chrono::seconds{1});
  return p.dispatcher->running();
}

} // namespace troupe::serve
