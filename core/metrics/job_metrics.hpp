#pragma once
// What the job queue of `troupe serve` tells as metrics, from its
// transitions (serve/job_dispatcher.hpp reports each one). Pure: times are
// the job's own fields.
//
// Metric                          type       labels            from
// troupe_queue_wait_seconds       histogram  priority          a start: started - max(submitted, not_before)
// troupe_run_duration_seconds     histogram  priority          an end after a start: ended - started
// troupe_jobs_ended_total         counter    tenant, status    an end: completed, failed, canceled, expired, dead
// troupe_sla_breaches_total       counter    tenant            a running job found past its deadline

#include <cstddef>
#include <vector>

#include "core/jobs/job.hpp"
#include "core/metrics/family.hpp"

namespace troupe::metrics {

/// A transition of a job worth counting.
enum class job_note : uint8_t {
  started,  ///< queued -> running
  ended,    ///< reached a final status (or dead)
  breached, ///< running past its deadline (SLA breach), once per job
};

class job_metrics {
public:
  explicit job_metrics(size_t max_series = 1000);

  void apply(job_note what, const jobs::job& j);

  [[nodiscard]] std::vector<const family*> families() const;

private:
  family wait_;
  family duration_;
  family ended_;
  family breaches_;
};

} // namespace troupe::metrics
