#pragma once
// The HTTP API of `troupe serve` (docs/http-api.md, docs/openapi.yaml):
// routes a request to its handler after authenticating its bearer key and
// authorizing its role (core/jobs/authorization.hpp). Liveness and
// readiness are answered on the I/O thread from memory; everything that
// reads or writes SQLite runs on a small worker pool, so a saturated queue
// or a slow disk never stalls the event loop.
//
// Tenancy: every lookup of a run, job or approval is scoped to the caller's
// tenant, and one of another tenant is answered `404` exactly like a run
// that does not exist, so its existence does not leak.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "net/http_server.hpp"

namespace troupe {
class runtime;
}

namespace troupe::serve {

class event_hub;
class job_dispatcher;
class metrics_hub;
class scenario_catalog;
class submission_writer;
class tenant_directory;

struct api_deps {
  runtime& rt;
  const scenario_catalog& catalog;
  job_dispatcher& dispatcher;
  event_hub& hub;
  tenant_directory& tenants;
  submission_writer& writer;
  std::string db_path;
  size_t max_queued = 10000; ///< jobs waiting at once, all tenants; then 429
  size_t workers = 4;
  /// Readiness beyond the queue: the journal takes writes.
  std::function<bool()> journal_writable;
  /// GET /metrics: answered only with this token; none (or no hub): 404.
  metrics_hub* metrics = nullptr;
  std::string metrics_token;
  uint64_t run_concurrency = 0; ///< shown as troupe_runs_concurrency_limit
};

class api {
public:
  explicit api(api_deps deps);
  ~api(); ///< joins the workers (see `join`)
  api(const api&) = delete;
  api& operator=(const api&) = delete;

  void handle(net::server_request&& req, net::responder res);
  /// Waits for the handlers in progress and runs no more. Submissions they
  /// handed to the writer still call back into this object: destroy it
  /// only after the writer.
  void join();

  /// The insides, shared with the handler files (serve/detail/api_impl.hpp).
  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::serve
