#pragma once
// `troupe serve`: the HTTP API (serve/api.hpp) on an HTTP server
// (net/http_server.hpp), over a durable job queue (serve/job_dispatcher.hpp)
// that starts runs in an embedded runtime. This is the composition root;
// each part's contract is in its own header.
//
// Start: the scenario directory is loaded (a file that does not parse is
// reported and not served), the queue is recovered from the journal (runs
// resume, queued jobs keep their order), then the server listens.
// Drain (SIGTERM): stop accepting connections and starting jobs, and wait
// up to a grace period for running jobs to end. Jobs still running after it
// are left to the journal: the next start resumes them exactly as after a
// crash, which is safe at any point by design.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "net/http_server.hpp"
#include "serve/job_dispatcher.hpp"
#include "serve/scenario_catalog.hpp"

namespace troupe {
class runtime;
}

namespace troupe::serve {

struct service_options {
  std::string db_path;
  std::string scenarios_dir;
  net::http_server_options http;
  dispatcher_options dispatch;
  size_t max_queued = 10000;
  size_t workers = 4;
  /// GET /metrics answers this bearer token; empty: /metrics is off (404).
  std::string metrics_token;
};

class service {
public:
  /// Starts every part; errors name the part that failed (an unreadable
  /// scenario directory, an address in use, ...). Scenario files that do
  /// not parse are not errors: they are in `load_problems()`.
  [[nodiscard]] static caf::expected<std::unique_ptr<service>> start(runtime& rt,
                                                                    service_options opts);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] std::vector<std::string> scenario_names() const;
  [[nodiscard]] const std::vector<catalog_problem>& load_problems() const;

  /// Parses the scenario directory again (SIGHUP); returns the files that
  /// failed, whose previous versions stay served.
  [[nodiscard]] caf::expected<std::vector<catalog_problem>> reload();

  /// Stops accepting and starting, waits up to `grace` for running jobs;
  /// returns how many still run.
  size_t drain(std::chrono::milliseconds grace);

private:
  struct impl;
  explicit service(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::serve
