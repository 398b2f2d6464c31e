#pragma once
// Retries of jobs whose run failed because of the infrastructure, as pure
// decisions: which run ends count, and when the next attempt may start.
//
// Which ends are infrastructure failures. A run whose models cannot be
// reached does not crash: each failed model request is journaled as a
// `model_reply` with a `failure`, consecutive failures reach the
// `provider_failed` limit, and the run ends `limit_reached` with reason
// "provider_failed" after its recovery turn (core/run_state.cpp). A dead or
// unreachable route answers `server_error`; a gateway with every breaker open
// answers `overloaded` ("no candidate", actors/model_gateway.cpp). So a run
// end is an infrastructure failure exactly when
//
//   status limit_reached or failed, reason "provider_failed", and the last
//   failed model reply's failure is one the gateway itself retries
//   (`retryable(model_failure)`: rate_limited, overloaded, server_error,
//   timeout, connection, malformed).
//
// Never retried: completed runs; canceled runs; the agent's own failure
// (`complete` with failure), every other limit (turns, tokens, cost,
// deadline, tool errors, parse failures, verification_failed, out_of_scope);
// provider failures that another attempt would repeat: `bad_request` (our
// request is wrong), `quota_exhausted` (a spent provider quota or spend
// limit does not come back within a backoff), `exhausted` (a scripted
// provider ran out of replies); a run whose last failure is not known (empty
// or unknown name); and the runtime's own ends: `restart_intensity_exceeded`
// (the run kept crashing: it would again), `journal_failed` (the run stays
// unfinished in the journal and resumes at the next start), and the non-ends
// `owned_elsewhere` / `not_resumed` (status running).
//
// When. Exponential backoff with full jitter: after the n-th start failed
// (`attempts` = n ≥ 1), the next waits `random01 × min(max_delay,
// base_delay × 2^(n−1))`, rounded down; after `max_attempts` starts the job
// is dead-lettered (an operator may requeue it). No clock, no randomness
// here: both come in.

#include <cstdint>
#include <string_view>

#include "schemas/event.hpp"

namespace troupe::jobs {

/// Whether a run that ended with `status` and `reason` (run_result /
/// completion), whose last failed model reply said `last_model_failure`
/// (`model_reply::failure`, from the journal), failed because of the
/// infrastructure and is worth another attempt (table above).
[[nodiscard]] bool is_infrastructure_failure(run_status status, std::string_view reason,
                                             std::string_view last_model_failure);

struct retry_decision {
  enum class kind : uint8_t { retry, dead_letter };
  kind what = kind::dead_letter;
  int64_t delay_us = 0;      ///< retry: the backoff drawn
  int64_t not_before_us = 0; ///< retry: now + delay; the job waits queued until then
};

/// After `attempts` starts of a job (the last one just failed because of
/// the infrastructure): retry at `not_before_us`, or dead-letter once
/// `attempts ≥ max_attempts` (0 counts as 1: no retry). `random01` is a
/// uniform draw in [0, 1) (clamped into [0, 1]; NaN counts as 0).
/// `base_delay_us` and `max_delay_us` below 0 count as 0.
[[nodiscard]] retry_decision next_attempt(uint32_t attempts, uint32_t max_attempts,
                                          int64_t base_delay_us, int64_t max_delay_us,
                                          double random01, int64_t now_us);

/// The ceiling of the n-th backoff, `min(max_delay, base_delay × 2^(n−1))`,
/// without overflow; n = 0 counts as 1.
[[nodiscard]] int64_t backoff_ceiling_us(uint32_t attempts, int64_t base_delay_us,
                                         int64_t max_delay_us);

} // namespace troupe::jobs
