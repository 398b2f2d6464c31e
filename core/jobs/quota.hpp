#pragma once
// A tenant's quotas (core/jobs/job.hpp: tenant_quota) as pure decisions:
// whether a submission is accepted, and how much a new run may spend. Time
// comes in as `now_us`; the windows are UTC calendar days and months
// (core/jobs/utc_time.hpp).
//
// Submission (check_submission), in this order, the first refusal wins:
//
//   tokens_per_day            402  nothing left of today's tokens;
//                                  Retry-After: until 00:00 UTC tomorrow
//   cost_micro_usd_per_month  402  nothing left of this month's spend;
//                                  Retry-After: until the 1st, 00:00 UTC
//   max_queued                429  the tenant has that many jobs waiting;
//                                  Retry-After: a hint (queue_retry_after_s)
//   submissions_per_minute    429  the token bucket is empty;
//                                  Retry-After: until it holds a token again
//
// The bucket is taken from last, so a submission refused for another quota
// does not use up the rate; call check_submission only for a submission
// that is otherwise valid. "Nothing left" counts what running runs still
// hold (tenant_usage::*_held) as spent: the same remainder run_budget_cap
// gives a new run.
//
// Token bucket: holds at most one minute's worth (`per_minute` tokens, the
// burst), refills continuously at per_minute per 60 s, and starts full. The
// arithmetic is exact (integers in 1/60,000,000 of a token), so no refill is
// lost to rounding however often it is asked. A clock that steps back
// refills nothing.
//
// Budgets during a run (run_budget_cap): a new run gets at most what is left
// of the tenant's day and month, so a tenant cannot pass its budget by more
// than the run's recovery turn (core/run_state.cpp: a limit starts the
// recovery turn, which still spends). The caller takes the minimum with the
// scenario's own limits, refuses with 402 when nothing is left, and counts
// each granted cap in `*_held` until the run ends, so concurrent runs share
// the remainder instead of each getting all of it.
//
// Every quota of 0 means unlimited.

#include <cstdint>
#include <optional>
#include <string>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

struct token_bucket {
  int64_t level = 0;      ///< in 1/60,000,000 of a token
  int64_t updated_us = 0; ///< the instant `level` is for
  bool started = false;   ///< a new bucket is full at its first take
};

struct take_result {
  bool ok = true;
  int64_t retry_after_s = 0; ///< refused: seconds until a token is there (≥ 1)
};

/// Takes one token from `b` (bucket of `per_minute`; 0: unlimited, always ok).
[[nodiscard]] take_result take(token_bucket& b, uint32_t per_minute, int64_t now_us);

/// What a tenant has now, read from the stores.
struct tenant_usage {
  uint32_t queued = 0;  ///< jobs waiting (queued)
  uint32_t running = 0; ///< jobs running
  uint64_t tokens_today = 0;              ///< spent since 00:00 UTC
  uint64_t cost_this_month_micro_usd = 0; ///< spent since the 1st, 00:00 UTC
  uint64_t tokens_held = 0;         ///< running runs' caps not yet spent; 0: not tracked
  uint64_t cost_held_micro_usd = 0; ///< likewise for cost
};

struct submission_verdict {
  bool ok = true;
  int http_status = 0;       ///< refused: 429 or 402
  std::string quota;         ///< refused: the tenant_quota field's name
  int64_t retry_after_s = 0; ///< refused: ≥ 1
  std::string detail;        ///< refused: for people, with the numbers
};

/// The default Retry-After of a full tenant queue: a queue drains at the
/// pace of runs, which this function cannot know.
inline constexpr int64_t default_queue_retry_after_s = 5;

/// Whether a tenant with `usage` may submit one more job at `now_us` (table
/// above). Takes a token from `bucket` only when it accepts.
[[nodiscard]] submission_verdict
check_submission(const tenant_quota& q, const tenant_usage& usage, token_bucket& bucket,
                 int64_t now_us, int64_t queue_retry_after_s = default_queue_retry_after_s);

/// The most a new run of the tenant may spend; nullopt: the quota sets no bound.
struct run_budget {
  std::optional<uint64_t> max_tokens;
  std::optional<uint64_t> max_cost_micro_usd;

  /// Nothing left of one of them: the run must not start (402).
  [[nodiscard]] bool exhausted() const {
    return max_tokens == uint64_t{0} || max_cost_micro_usd == uint64_t{0};
  }
};

[[nodiscard]] run_budget run_budget_cap(const tenant_quota& q, const tenant_usage& usage);

} // namespace troupe::jobs
