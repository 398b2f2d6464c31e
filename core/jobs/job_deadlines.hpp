#pragma once
// What a job's deadline asks for, as pure decisions the dispatcher calls on
// its ticks and when a run ends. A job's `deadline_us` (0: none) is when it
// must have started and should have ended; it has passed once
// `now_us >= deadline_us`.
//
//   queued, deadline passed    ──▶ expire            (queued → expired; its
//                                                      run never starts)
//   running, deadline passed, not yet breached:
//     cancel_on_breach false   ──▶ mark_breached     (sla_breached = true,
//                                                      the run goes on)
//     cancel_on_breach true    ──▶ cancel_breached   (sla_breached = true and
//                                                      cancel the run)
//   anything else              ──▶ none
//
// A job already marked gets `none`: the cancel was asked together with the
// mark, and asking again on every tick would only repeat it. A run that ends
// between two ticks after its deadline is caught at its end: the dispatcher
// asks `deadline_action(running, ..., ended_us, ...)` before it records the
// end, and marks the job when told to (a cancel is moot then).
//
// Final and dead jobs, and `accepted` (not yet durable), get `none`.

#include <cstdint>
#include <string_view>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

enum class deadline_verdict : uint8_t { none, expire, mark_breached, cancel_breached };

[[nodiscard]] std::string_view to_string(deadline_verdict v);

/// True when there is a deadline and `now_us` is at or past it. The
/// scheduler uses the same test to never start a job about to expire.
[[nodiscard]] bool deadline_passed(int64_t deadline_us, int64_t now_us);

/// What to do about a job in `status` with `deadline_us` at `now_us` (table above).
[[nodiscard]] deadline_verdict deadline_action(job_status status, int64_t deadline_us,
                                               bool sla_breached, int64_t now_us,
                                               bool cancel_on_breach);

/// When the dispatcher must look at this job again for its deadline: its
/// deadline while it is queued, or running and not yet breached; 0 when
/// the deadline can no longer ask for anything.
[[nodiscard]] int64_t deadline_wake_us(job_status status, int64_t deadline_us,
                                       bool sla_breached);

} // namespace troupe::jobs
