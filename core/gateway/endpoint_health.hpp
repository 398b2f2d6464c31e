#pragma once
// The health of one endpoint:model pair, as the gateway actor keeps it: one
// `endpoint_health` per pair, updated by `begin_attempt` when a request is
// sent and `observe` when it ends. Pure: time is `now_us`; no clock, no I/O.
// The struct is plain data with bounded memory (two rings of 128 latencies,
// about 2 KiB), so it can be saved and restored as is; `in_flight` and the
// breaker's probe are about requests of this process, and `forget_in_flight`
// clears them when saved health is loaded after a restart.
//
// What an outcome counts for (`weigh`):
//   success                                     EWMAs, latency windows
//   rate_limited, overloaded, server_error,
//   timeout, connection, malformed              a failure of the endpoint
//   quota_exhausted                             a failure; opens the breaker at
//                                               once (see breaker.hpp)
//   bad_request, canceled, exhausted            nothing: the request or the run
//                                               was at fault, not the endpoint
// Latencies (EWMA and windows) come from successes only: a failure's time
// says how it failed (a timeout takes the whole timeout, a refused
// connection no time at all), not how fast the endpoint answers, and the
// error rate already carries it.
//
// EWMA: `v ← α·x + (1 − α)·v`, α = `health_config::alpha` (default 0.2: the
// last ~10 outcomes weigh ~90%). The error rate starts at 0 (an endpoint is
// presumed healthy) and takes x = 1 per counted failure, 0 per success; a
// latency EWMA starts at its first sample.
//
// Health score in [0, 1], for `troupe models`, `troupe show` and the
// journaled candidates:
//     score = (1 − error_rate) × ref / (ref + latency_ms)
// with ref = `latency_ref_ms` (default 2000): an endpoint that never fails
// and answers in 2 s scores 0.5, in 0 ms (or not measured yet) 1; every
// failure in ten costs a tenth of whatever the latency leaves.
//
// Quantiles: nearest rank over the window (the last 128 successes): the
// smallest sample with at least q of the window at or below it.

#include <array>
#include <cstdint>
#include <optional>

#include "core/gateway/breaker.hpp"
#include "core/model_provider.hpp"

namespace troupe {

struct health_config {
  double alpha = 0.2;           ///< EWMA weight of the newest outcome, in (0, 1]
  double latency_ref_ms = 2000; ///< latency at which the score halves
  breaker_config breaker;
};

/// The last `capacity` latencies, in microseconds.
struct latency_window {
  static constexpr uint32_t capacity = 128;
  std::array<uint64_t, capacity> samples_us{};
  uint32_t size = 0; ///< samples held, at most capacity
  uint32_t next = 0; ///< where the next sample goes
};

void push(latency_window& w, uint64_t us);
/// Nearest-rank quantile (q clamped to [0, 1]); nothing while the window is empty.
[[nodiscard]] std::optional<uint64_t> quantile_us(const latency_window& w, double q);

/// How one ended attempt went, as the sender saw it.
struct attempt_outcome {
  model_failure failure = model_failure::none;
  uint64_t latency_us = 0;
  uint64_t first_token_us = 0; ///< 0 when the reply did not stream
  bool probe = false;          ///< begin_attempt said this attempt was the probe
};

enum class failure_weight : uint8_t { success, counted, quota, ignored };
/// What a failure says about the endpoint (the table above).
[[nodiscard]] failure_weight weigh(model_failure f);

struct endpoint_health {
  double latency_ms = 0;      ///< EWMA over successes; 0 until the first
  double first_token_ms = 0;  ///< EWMA over streamed successes; 0 until the first
  double error_rate = 0;      ///< EWMA over counted outcomes, in [0, 1]
  uint32_t consecutive_failures = 0;
  uint64_t requests = 0;      ///< attempts ended (every outcome)
  uint64_t successes = 0;
  uint64_t failures = 0;      ///< counted failures (quota included)
  uint32_t in_flight = 0;     ///< sent and not yet ended
  int64_t last_success_us = 0;
  int64_t last_failure_us = 0; ///< last counted failure
  latency_window latencies;    ///< total latency of successes
  latency_window first_tokens; ///< time to first token of streamed successes
  struct breaker breaker;
};

/// Whether a request may be sent now (see breaker.hpp's `admits`).
[[nodiscard]] bool admits(const endpoint_health& h, int64_t now_us);

/// Ends the breaker's cool-down when it is over (open → half_open). The
/// gateway calls it for each candidate before building the candidates, so
/// that they show the state the choice is made on.
[[nodiscard]] std::optional<breaker_transition> refresh(endpoint_health& h, int64_t now_us);

struct attempt_start {
  bool admitted = false; ///< false: nothing changed, do not send
  bool probe = false;    ///< this attempt is the half-open probe: pass it to observe
  std::optional<breaker_transition> transition; ///< a cool-down that ended now
};

/// Books a request about to be sent: refreshes the breaker, takes the probe
/// when half-open, counts it in flight.
[[nodiscard]] attempt_start begin_attempt(endpoint_health& h, int64_t now_us);

/// Folds an ended attempt (begun with begin_attempt) into the health and
/// its breaker; returns the breaker's transition, if any.
[[nodiscard]] std::optional<breaker_transition>
observe(endpoint_health& h, const attempt_outcome& o, int64_t now_us, const health_config& cfg);

/// The health score (formula above), in [0, 1].
[[nodiscard]] double health_score(const endpoint_health& h, const health_config& cfg);

/// After loading saved health: no request of this process is in flight.
void forget_in_flight(endpoint_health& h);

} // namespace troupe
