#pragma once
// What a tenant sees of the job queue (GET /v1/queue, the dashboard's queue
// page): its jobs queued and running per priority lane, and how long the
// oldest queued one has waited. Pure: the jobs and `now_us` come in.
//
// A job waiting for a retry's backoff (not_before_us in the future) is
// queued like any other: it holds a place in its lane, and its wait counts
// from its submission, as the scheduler's aging does.

#include <array>
#include <cstdint>
#include <vector>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

struct lane_summary {
  job_priority priority = job_priority::normal;
  uint32_t queued = 0;
  uint32_t running = 0;
  int64_t oldest_submitted_us = 0; ///< of the queued ones; 0: none queued
  int64_t oldest_wait_ms = 0;      ///< now − oldest_submitted_us; 0: none queued
};

struct queue_summary {
  std::array<lane_summary, 3> lanes; ///< high, normal, low
  uint32_t queued = 0;
  uint32_t running = 0;
  int64_t oldest_wait_ms = 0; ///< over every lane
};

/// Folds `jobs` (any statuses; only queued and running count) of one tenant.
[[nodiscard]] queue_summary summarize_queue(const std::vector<job>& jobs, int64_t now_us);

} // namespace troupe::jobs
