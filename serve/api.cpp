#include "serve/api.hpp"

#include <boost/asio/post.hpp>

#include <strings.h>

#include <spdlog/spdlog.h>

#include "schemas/errors.hpp"
#include "serve/dashboard.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/job_dispatcher.hpp"

namespace troupe::serve {

namespace detail {

reader_pool::lease::~lease() {
  if (r_ == nullptr)
    return;
  std::lock_guard<std::mutex> guard{pool_->mu_};
  pool_->free_.push_back(std::move(r_));
}

caf::expected<reader_pool::lease> reader_pool::take() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (!free_.empty()) {
      auto r = std::move(free_.back());
      free_.pop_back();
      return lease{*this, std::move(r)};
    }
  }
  auto jobs = persistence::job_store::open(db_path_, true);
  if (!jobs)
    return std::move(jobs.error());
  auto journal = persistence::store::open(db_path_, persistence::open_mode::read_only);
  if (!journal)
    return std::move(journal.error());
  auto approvals = persistence::approval_store::open(db_path_);
  if (!approvals)
    return std::move(approvals.error());
  return lease{*this, std::make_unique<readers>(
                        readers{std::move(*jobs), std::move(*journal), std::move(*approvals)})};
}

net::server_response json_reply(int status, const nlohmann::json& body) {
  net::server_response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

net::server_response internal_error(const caf::error& err) {
  spdlog::error("api: {}", render(err));
  return net::problem(500, "internal", "Internal error", render(err));
}

net::server_response not_found(const std::string& what) {
  return net::problem(404, "not-found", "Not found", what + " does not exist");
}

net::server_response forbidden(const principal& who, std::string_view action) {
  return net::problem(403, "forbidden", "Forbidden",
                      "key " + who.key_id + " (role " + std::string(jobs::to_string(who.key_role))
                        + ") may not " + std::string(action));
}

} // namespace detail

namespace {

using detail::call;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    if (j > i)
      out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

net::server_response method_not_allowed(const std::string& allow) {
  auto r = net::problem(405, "method-not-allowed", "Method not allowed",
                        "this resource answers " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

// Picks the handler of a /v1 path; nothing when no route matches.
using handler_fn = void (*)(api::impl&, call&);
struct route_match {
  handler_fn fn = nullptr;
  std::string allow; ///< set when the path matched but not the method
};

route_match route(const std::string& method, const std::vector<std::string>& p) {
  auto pick = [&](const char* want, handler_fn fn) {
    return method == want ? route_match{fn, {}} : route_match{nullptr, want};
  };
  auto n = p.size();
  if (n == 1 && p[0] == "runs") {
    if (method == "POST")
      return {detail::submit_run, {}};
    if (method == "GET")
      return {detail::list_runs, {}};
    return {nullptr, "GET, POST"};
  }
  if (n == 2 && p[0] == "runs")
    return pick("GET", detail::get_run);
  if (n == 3 && p[0] == "runs" && p[2] == "cancel")
    return pick("POST", detail::cancel_run);
  if (n == 3 && p[0] == "runs" && p[2] == "requeue")
    return pick("POST", detail::requeue_run);
  if (n == 3 && p[0] == "runs" && p[2] == "tree")
    return pick("GET", detail::run_tree);
  if (n == 3 && p[0] == "runs" && p[2] == "events")
    return pick("GET", detail::run_events);
  if (n == 1 && p[0] == "approvals")
    return pick("GET", detail::list_approvals);
  if (n == 1 && p[0] == "tenant")
    return pick("GET", detail::get_tenant);
  if (n == 1 && p[0] == "queue")
    return pick("GET", detail::get_queue);
  if (n == 1 && p[0] == "endpoints")
    return pick("GET", detail::list_endpoints);
  if (n == 1 && p[0] == "kpis")
    return pick("GET", detail::get_kpis);
  if (n == 3 && p[0] == "approvals")
    return pick("POST", detail::decide_approval);
  return {};
}

net::server_response unauthorized(std::string detail) {
  auto r = net::problem(401, "unauthorized", "Unauthorized", std::move(detail));
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"troupe\"");
  return r;
}

void health(api::impl& a, const net::server_request& req, net::responder& res) {
  if (req.path == "/healthz") {
    res.reply(detail::json_reply(200, {{"status", "ok"}}));
    return;
  }
  auto since = std::chrono::steady_clock::now() - a.d.dispatcher.last_round();
  bool moving = since < std::chrono::seconds{5};
  bool writable = !a.d.journal_writable || a.d.journal_writable();
  if (moving && writable) {
    res.reply(detail::json_reply(200, {{"status", "ready"}}));
    return;
  }
  res.reply(net::problem(503, "not-ready", "Not ready",
                         std::string(writable ? "" : "the journal does not take writes; ")
                           + (moving ? "" : "the job queue has not moved for 5 s")));
}

} // namespace

api::api(api_deps deps) : impl_(std::make_unique<impl>(std::move(deps))) {}

api::~api() {
  join();
}

void api::join() {
  impl_->pool.join();
}

void api::handle(net::server_request&& req, net::responder res) {
  if (req.path == "/healthz" || req.path == "/readyz") {
    if (req.method != "GET" && req.method != "HEAD")
      res.reply(method_not_allowed("GET"));
    else
      health(*impl_, req, res);
    return;
  }
  if (req.path == "/metrics") {
    if (req.method != "GET" && req.method != "HEAD")
      res.reply(method_not_allowed("GET"));
    else
      detail::serve_metrics(*impl_, req, res);
    return;
  }
  if (auto page = dashboard_response(req)) {
    res.reply(std::move(*page));
    return;
  }
  auto parts = split_path(req.path);
  if (parts.empty() || parts[0] != "v1") {
    res.reply(detail::not_found("path " + req.path));
    return;
  }
  parts.erase(parts.begin());
  auto m = route(req.method, parts);
  if (m.fn == nullptr) {
    res.reply(m.allow.empty() ? detail::not_found("path " + req.path)
                              : method_not_allowed(m.allow));
    return;
  }
  auto token = detail::bearer(req);
  if (!token) {
    res.reply(unauthorized("send an API key as `Authorization: Bearer <key>`"));
    return;
  }
  auto* a = impl_.get();
  boost::asio::post(a->pool, [a, fn = m.fn, token = std::move(*token), req = std::move(req),
                              res = std::move(res), parts = std::move(parts)]() mutable {
    auto who = a->d.tenants.authenticate(token);
    if (!who) {
      res.reply(detail::internal_error(who.error()));
      return;
    }
    if (!*who) {
      res.reply(unauthorized("this API key is unknown or revoked"));
      return;
    }
    call c{std::move(req), std::move(res), std::move(**who), std::move(parts)};
    try {
      fn(*a, c);
    } catch (const std::exception& e) {
      spdlog::error("api: {} {}: {}", c.req.method, c.req.path, e.what());
      c.res.reply(net::problem(500, "internal", "Internal error", e.what()));
    }
  });
}

} // namespace troupe::serve

namespace troupe::serve::detail {

std::optional<std::string> bearer(const net::server_request& req) {
  auto h = req.header("authorization");
  if (!h || h->size() < 8 || strncasecmp(h->c_str(), "Bearer ", 7) != 0)
    return std::nullopt;
  return h->substr(7);
}

} // namespace troupe::serve::detail
