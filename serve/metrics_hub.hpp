#pragma once
// The figures behind `GET /metrics`: what the journal tells (a fold over
// every committed event, core/metrics/event_metrics.hpp, fed by the event
// hub's observer), what the job queue tells (core/metrics/job_metrics.hpp,
// fed by the dispatcher), and, at each scrape, gauges read from the queue,
// the runtime (runtime::stats) and the pending approvals.
//
// Counters start at zero when the process starts (Prometheus's `rate` and
// `increase` handle the reset): events committed before it are not folded.
// A run that began before this process (resumed) has its tenant looked up
// in the journal's runs table, once per run.
//
// Threads: `on_event` on the event hub's thread, `on_job` on the
// dispatcher's, `render` on the API's workers; one mutex guards the folds,
// held for an update or for rendering them.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <caf/expected.hpp>

#include "core/metrics/event_metrics.hpp"
#include "core/metrics/job_metrics.hpp"
#include "persistence/store.hpp"
#include "serve/job_dispatcher.hpp"
#include "troupe/runtime_stats.hpp"

namespace troupe::persistence {
struct feed_event;
}

namespace troupe::serve {

/// What a scrape reads at its time.
struct scrape_inputs {
  queue_view queue;
  uint64_t queue_capacity = 0;    ///< jobs that may wait at once (--max-queued)
  uint64_t run_concurrency = 0;   ///< runs at once, all tenants
  runtime_stats runtime;
  uint64_t approvals_pending = 0;
  int64_t oldest_approval_us = 0; ///< when the oldest pending one was asked; 0: none
  int64_t now_us = 0;
};

class metrics_hub {
public:
  /// Opens its own read-only connection to the journal at `db_path`.
  [[nodiscard]] static caf::expected<std::unique_ptr<metrics_hub>> open(const std::string& db_path);

  /// A committed event (the event hub's observer).
  void on_event(const persistence::feed_event& e);
  /// A job's transition (the dispatcher's `on_job`).
  void on_job(metrics::job_note what, const jobs::job& j);

  /// The whole exposition (core/metrics/exposition.hpp).
  [[nodiscard]] std::string render(const scrape_inputs& in) const;

private:
  explicit metrics_hub(persistence::store journal) : journal_(std::move(journal)) {}
  std::string tenant_of(const event& e);

  // The event hub's thread only.
  persistence::store journal_;
  metrics::run_tenants tenants_;

  mutable std::mutex mu_;
  metrics::event_metrics events_;   // guarded by mu_
  metrics::job_metrics jobs_;       // guarded by mu_
  uint64_t undecodable_ = 0;        // guarded by mu_
};

} // namespace troupe::serve
