#pragma once
// What the gateway does after a failed attempt, and when it hedges. Pure:
// randomness is the `draw` in [0, 1) the caller made and journals (with the
// decision, like a tool retry's jitter), so replay gets the same delays.
//
// next_attempt, the rules in order (the first that matches decides):
//   1. canceled                    give up: the run no longer wants it.
//   2. attempts ≥ max_attempts     give up (all endpoints together).
//   3. bad_request                 give up: the request itself is wrong;
//                                  another endpoint would say the same.
//   4. quota_exhausted             fall back when another candidate can take
//                                  it, else give up; never the same endpoint.
//   5. not retryable (exhausted…)  give up.
//   6. timeout, a fallback exists  fall back now: the timeout already cost
//                                  its whole time, another endpoint is the
//                                  better bet.
//   7. the same endpoint may retry (fewer than max_attempts_per_endpoint
//      attempts on it, and its breaker still admits requests):
//        delay = max(retry-after capped at max_retry_after_ms, backoff)
//        backoff = min(base_delay × 2^(k−1) × (0.5 + draw), max_delay),
//                  k = attempts on this endpoint so far
//      The server's retry-after is a floor (never sooner than it asked),
//      capped so a server cannot park the request for hours. When that wait
//      exceeds max_same_endpoint_wait and a fallback exists, fall back now
//      instead (another endpoint answers sooner); otherwise retry the same
//      endpoint after the delay.
//   8. else fall back when a fallback exists, else give up.
// A fall back has no delay. "A fallback exists" is the caller's
// `can_fall_back`: choose_route with this pair also excluded would choose
// one (or would after a cool-down the caller is willing to wait for).
// Reasons are stable: "<failure>: <what>", e.g. "rate_limited: retry after
// the server's delay", "timeout: falling back", "bad_request: not retried".
//
// hedge_delay_us: how long to wait for an answer before sending the same
// request to the next candidate too (the first reply wins, the other is
// canceled). The delay is the `quantile` of the endpoint's recent
// successes, at least `min_delay_us`, and only once the window holds
// `min_samples` (capped at the window's 128) — before that there is no
// honest quantile. An endpoint that streams is hedged on time to first
// token (a reply that has begun is not worth duplicating: the caller stops
// the hedge timer at the first delta); one that does not, on total latency.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/model_provider.hpp"

namespace troupe {

struct endpoint_health;

struct retry_config {
  uint32_t max_attempts = 3;              ///< per request, all endpoints together
                                          ///< (model_config::max_attempts)
  uint32_t max_attempts_per_endpoint = 2; ///< per endpoint:model in one request
  int64_t base_delay_us = 500'000;
  int64_t max_delay_us = 20'000'000;
  uint64_t max_retry_after_ms = 60'000;   ///< cap on the server's Retry-After
  int64_t max_same_endpoint_wait_us = 5'000'000; ///< longer: fall back if possible
};

enum class attempt_action : uint8_t { retry_same, fall_back, give_up };

[[nodiscard]] std::string_view to_string(attempt_action a);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, attempt_action& out);

struct failed_attempt {
  model_failure failure = model_failure::server_error;
  uint64_t retry_after_ms = 0;    ///< what the reply said; 0: nothing
  uint32_t attempts = 1;          ///< of this request so far, this one included
  uint32_t endpoint_attempts = 1; ///< of those, on this endpoint:model
  bool endpoint_admits = true;    ///< its breaker still admits (after observe)
  bool can_fall_back = false;     ///< another candidate can take the request
};

struct attempt_plan {
  attempt_action action = attempt_action::give_up;
  int64_t delay_us = 0; ///< retry_same: wait this long first
  std::string reason;
};

/// The plan after a failed attempt (rules above). Pure.
[[nodiscard]] attempt_plan next_attempt(const failed_attempt& f, double draw,
                                        const retry_config& cfg);

/// The backoff before the `k`-th retry on one endpoint (k ≥ 1).
[[nodiscard]] int64_t backoff_us(uint32_t k, double draw, const retry_config& cfg);

struct hedge_config {
  bool enabled = false;
  double quantile = 0.9;
  uint32_t min_samples = 20;
  int64_t min_delay_us = 200'000;
};

/// The hedge delay for a request sent to `h`'s endpoint, or none (disabled,
/// too few samples).
[[nodiscard]] std::optional<int64_t> hedge_delay_us(const endpoint_health& h,
                                                    const hedge_config& cfg);

} // namespace troupe
