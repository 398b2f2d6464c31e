#pragma once
// The API's insides, shared by its handler files (api_*.cpp): the worker
// pool, read connections, and the few helpers every handler uses.

#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/jobs/job.hpp"
#include "net/http_server.hpp"
#include "persistence/approval_store.hpp"
#include "persistence/job_store.hpp"
#include "persistence/store.hpp"
#include "serve/api.hpp"
#include "serve/tenant_directory.hpp"

namespace troupe::serve::detail {

/// One thread's read connections to the journal database.
struct readers {
  persistence::job_store jobs;
  persistence::store journal;
  persistence::approval_store approvals;
};

/// Read connections, handed to one worker at a time.
class reader_pool {
public:
  explicit reader_pool(std::string db_path) : db_path_(std::move(db_path)) {}
  class lease {
  public:
    lease(reader_pool& pool, std::unique_ptr<readers> r) : pool_(&pool), r_(std::move(r)) {}
    lease(lease&&) = default;
    ~lease();
    readers* operator->() const { return r_.get(); }
    readers& operator*() const { return *r_; }
  private:
    reader_pool* pool_;
    std::unique_ptr<readers> r_;
  };
  [[nodiscard]] caf::expected<lease> take();

private:
  std::string db_path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<readers>> free_;
};

/// A request on its way through a handler.
struct call {
  net::server_request req;
  net::responder res;
  principal who;
  std::vector<std::string> parts; ///< the path split at '/', after "v1"
};

} // namespace troupe::serve::detail

namespace troupe::serve {

struct api::impl {
  api_deps d;
  boost::asio::thread_pool pool;
  detail::reader_pool readers;

  explicit impl(api_deps deps)
    : d(std::move(deps)), pool(d.workers), readers(d.db_path) {}
};

namespace detail {

[[nodiscard]] net::server_response json_reply(int status, const nlohmann::json& body);
/// The token of an `Authorization: Bearer <token>` header, if there is one.
[[nodiscard]] std::optional<std::string> bearer(const net::server_request& req);

/// `500 internal` naming what failed; logged.
[[nodiscard]] net::server_response internal_error(const caf::error& err);
[[nodiscard]] net::server_response not_found(const std::string& what);
[[nodiscard]] net::server_response forbidden(const principal& who, std::string_view action);

/// The value of a lookup, or nothing once the reply is sent: 500 naming the
/// error when it failed, 404 naming `what` when there is no such thing.
template <class T>
std::optional<T> found_or_reply(caf::expected<std::optional<T>> x, call& c,
                                const std::string& what) {
  if (!x) {
    c.res.reply(internal_error(x.error()));
    return std::nullopt;
  }
  if (!*x)
    c.res.reply(not_found(what));
  return std::move(*x);
}

/// The job of `id` (a job id or its run id) when it belongs to `tenant`.
[[nodiscard]] caf::expected<std::optional<jobs::job>>
find_job(readers& r, const std::string& tenant, const std::string& id);
/// The journal's run when it belongs to `tenant`.
[[nodiscard]] caf::expected<std::optional<persistence::run_info>>
find_run(readers& r, const std::string& tenant, const std::string& run_id);

// The handlers, one per route; each replies through `c.res` exactly once.
void submit_run(api::impl& a, call& c);
void list_runs(api::impl& a, call& c);
void get_run(api::impl& a, call& c);
void cancel_run(api::impl& a, call& c);
void requeue_run(api::impl& a, call& c);
void run_tree(api::impl& a, call& c);
void run_events(api::impl& a, call& c);
void list_approvals(api::impl& a, call& c);
void decide_approval(api::impl& a, call& c);
void get_tenant(api::impl& a, call& c);
void get_queue(api::impl& a, call& c);
void list_endpoints(api::impl& a, call& c);
void get_kpis(api::impl& a, call& c);
/// GET /metrics (not under /v1: its own token, not an API key).
void serve_metrics(api::impl& a, const net::server_request& req, net::responder& res);

} // namespace detail

} // namespace troupe::serve
