#pragma once
// The job queue's engine: starts queued jobs as runs, in the order the pure
// scheduler picks (core/jobs/job_scheduling.hpp: priority lanes with aging,
// global and per-tenant concurrency), and records how each ended.
//
// The queue lives in the journal database (persistence/job_store.hpp); this
// class keeps a mirror of the queued and running jobs in memory so that
// admission and scheduling never scan the table. Every transition is a
// compare-and-set on the stored row first, so a job moves exactly once even
// when a cancel races its start.
//
// Lifecycle (core/jobs/job_lifecycle.hpp): queued -> running when picked
// (attempts + 1; the run gets attempt_run_id); running -> completed,
// failed or canceled as its run ended; running -> queued again with a
// backoff when the run failed because of the infrastructure (no model
// endpoint reachable), or dead after `max_attempts`; queued -> expired when
// its deadline passed before it started. A running job past its deadline is
// marked `sla_breached` and, with `cancel_on_breach`, canceled.
//
// Crash recovery (`recover`, before `start`): the runtime resumes every
// unfinished run of the journal; a job recorded running whose run ended
// meanwhile takes the run's end, one whose run never reached the journal
// goes back to the queue (same run id: its run starts as if for the first
// time), and queued jobs keep their order and deadlines. So every accepted
// job ends exactly once.
//
// Threads: one dispatcher thread does every transition; run ends arrive on
// runtime threads and are handed over through a queue.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "core/metrics/job_metrics.hpp"

namespace troupe {
class runtime;
}

namespace troupe::serve {

class event_hub;
class scenario_catalog;

struct dispatcher_options {
  std::string db_path;
  uint32_t global_concurrency = 16;
  std::chrono::milliseconds aging_step{10000};
  uint32_t max_attempts = 3;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  bool cancel_on_breach = false;
  std::chrono::milliseconds tick{100}; ///< deadline checks and retries
  /// Told of every start, end and SLA breach, after the store recorded it,
  /// on the dispatcher's thread (or a canceling caller's); must not block.
  std::function<void(metrics::job_note, const jobs::job&)> on_job;
};

/// A tenant's quotas and policy, as the dispatcher needs them at start time.
using tenant_lookup = std::function<jobs::tenant(const std::string& tenant)>;

struct queue_counts {
  uint64_t queued = 0;
  uint64_t running = 0;
};

/// The queue now, per priority lane (indexed by jobs::job_priority).
struct queue_view {
  std::array<uint64_t, 3> queued{};
  /// Submission time of each lane's oldest queued job; 0: the lane is empty.
  std::array<int64_t, 3> oldest_submitted_us{};
  uint64_t running = 0;
};

/// The run of a job's latest start: the job's run id for the first, then
/// `<run id>-<n>` for the n-th (a retry or requeue is a new run: the failed
/// one stays in the journal as it ended).
[[nodiscard]] std::string attempt_run_id(const jobs::job& j);

class job_dispatcher {
public:
  [[nodiscard]] static caf::expected<std::unique_ptr<job_dispatcher>>
  create(runtime& rt, const scenario_catalog& catalog, event_hub& hub, tenant_lookup tenants,
         dispatcher_options opts);
  ~job_dispatcher(); ///< stops the thread (runs in flight go on; see `stop`)
  job_dispatcher(const job_dispatcher&) = delete;
  job_dispatcher& operator=(const job_dispatcher&) = delete;

  /// Reconciles the stored queue with the journal after a restart and loads
  /// the queued jobs. Call once, before `start`.
  [[nodiscard]] caf::error recover();
  void start();
  /// Starts no more jobs (a draining server); running ones go on.
  void stop_starting();

  /// A job whose submission is durable (status queued).
  void enqueue(jobs::job j);
  /// Cancels a queued or running job. Returns the job as it is now, or
  /// nothing when the id is unknown.
  [[nodiscard]] caf::expected<std::optional<jobs::job>> cancel(const std::string& job_id,
                                                               const std::string& by);

  /// Puts a dead job back in the queue with fresh attempts. Returns the job
  /// as it is now (still dead when it was not dead: the caller says 409), or
  /// nothing when the id is unknown.
  [[nodiscard]] caf::expected<std::optional<jobs::job>> requeue(const std::string& job_id);

  [[nodiscard]] queue_counts counts() const;
  [[nodiscard]] queue_view view() const;
  [[nodiscard]] queue_counts counts(const std::string& tenant) const;
  /// When the dispatcher thread last went round (readiness: the queue moves).
  [[nodiscard]] std::chrono::steady_clock::time_point last_round() const;
  /// Whether the last write to the job table succeeded (readiness).
  [[nodiscard]] bool writes_ok() const;
  /// Jobs running now; the server's drain waits for 0.
  [[nodiscard]] size_t running() const;

private:
  struct impl;
  explicit job_dispatcher(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_; ///< shared with the ends of runs in flight
};

} // namespace troupe::serve
