#pragma once
// The moves a job may make between statuses. The job store refuses any other
// move (a stale writer, a double end), so that every accepted job ends
// exactly once even when the dispatcher, a cancel request and a restart race.
//
//   accepted ──▶ queued                 the submission is durable
//   queued ──▶ running                  the dispatcher started its run
//   queued ──▶ canceled                 canceled before it started
//   queued ──▶ expired                  its deadline passed before it started
//   queued ──▶ failed                   its run could not be admitted at start
//                                       (the scenario is gone or no longer
//                                       valid after a reload)
//   running ──▶ completed | failed | canceled
//                                       the run ended so
//   running ──▶ queued                  a retry after an infrastructure failure
//                                       (with not_before_us), or a restart
//                                       found no run to resume
//   running ──▶ dead                    infrastructure failures retried out
//   dead ──▶ queued                     an operator requeued the dead letter
//
// Staying in the same status is not a move. Pure; no I/O.

#include "core/jobs/job.hpp"

namespace troupe::jobs {

/// Whether a job in status `from` may move to `to` (table above).
[[nodiscard]] bool can_move(job_status from, job_status to);

} // namespace troupe::jobs
