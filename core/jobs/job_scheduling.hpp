#pragma once
// Which queued jobs start now: a pure decision the dispatcher calls whenever
// a slot may have freed (a run ended, a job arrived, a backoff or a tick
// passed). It returns the picks in start order; the dispatcher moves each
// to `running` (core/jobs/job_lifecycle.hpp) and starts its run.
//
// Order. Each job sits in the lane of its priority (high 0, normal 1, low 2)
// and ages upward: its effective lane is
//
//     lane − ⌊(now − submitted) / aging_step⌋, never above high (0),
//
// and jobs go by effective lane, then by `seq` (submission order: FIFO).
// Aging counts from submission, so a retried or requeued job keeps the
// place its age gives it, and one tenant's jobs of one priority always start
// in the order they were submitted.
//
// Eligibility. A job is skipped, not waited on, when its backoff is not over
// (`not_before_us > now`), when its deadline has passed (the deadline pass
// expires it; core/jobs/job_deadlines.hpp), or when its tenant is at its
// `max_concurrent` (counting the runs it has and the picks made in this
// call): a tenant at its cap never holds back another tenant's jobs.
// Picking stops when `max_picks` are made or the server runs
// `global_concurrency` runs.
//
// No starvation. A job of lane L reaches the top lane after L full aging
// steps (a low job: 2 × aging_step). From then on no job submitted after it
// goes before it (same lane, larger seq), so under any flood of high jobs it
// waits at most L × aging_step plus the time the server needs to start the
// jobs submitted before it; its own tenant's cap can hold it longer, by
// design. With aging_step ≤ 0 there is no aging (strict lanes, which can
// starve).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

/// What scheduling reads of a queued job.
struct queued_job {
  std::string job_id;
  std::string tenant;
  job_priority priority = job_priority::normal;
  uint64_t seq = 0;
  int64_t submitted_us = 0;
  int64_t deadline_us = 0;   ///< 0: none
  int64_t not_before_us = 0; ///< 0: no backoff
};

[[nodiscard]] queued_job queued_view(const job& j);

/// Runs alive now on this server.
struct running_counts {
  uint32_t total = 0;
  std::map<std::string, uint32_t> per_tenant; ///< absent: none
};

struct scheduling_limits {
  uint32_t global_concurrency = 1; ///< runs at once on this server; 0 counts as 1
  /// Each tenant's `tenant_quota::max_concurrent_runs`; absent or 0: unlimited.
  std::map<std::string, uint32_t> tenant_max_concurrent;
  int64_t aging_step_us = 10'000'000; ///< each full step waited raises a lane; ≤ 0: no aging
  size_t max_picks = SIZE_MAX;        ///< at most this many picks per call
};

/// The lane `j` competes in at `now_us` (its priority aged upward).
[[nodiscard]] job_priority effective_priority(const queued_job& j, int64_t aging_step_us,
                                              int64_t now_us);

/// The jobs of `queued` (in any order) to start now, as indices into
/// `queued`, in start order.
[[nodiscard]] std::vector<size_t> pick_jobs(const std::vector<queued_job>& queued,
                                            const running_counts& running,
                                            const scheduling_limits& limits, int64_t now_us);

} // namespace troupe::jobs
