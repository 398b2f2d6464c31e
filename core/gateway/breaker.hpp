#pragma once
// The circuit breaker of one endpoint:model pair. Pure: time comes in as
// `now_us`; the gateway actor holds one `breaker` per pair (inside its
// `endpoint_health`) and journals or logs every transition these functions
// report.
//
//   closed ──(N consecutive failures, or error-rate EWMA above the threshold
//             with at least min_requests outcomes since it last closed,
//             or quota exhausted)──▶ open
//   open ──(now ≥ open_until_us)──▶ half_open           end_cool_down
//   half_open: admits exactly one request at a time, the probe (take_probe)
//   half_open ──(probe succeeded)──▶ closed
//   half_open ──(probe failed)──▶ open, with a longer cool-down
//
// Cool-down: `cool_down_us × 2^(opens − 1)`, capped at `max_cool_down_us`,
// where `opens` counts the opens since the breaker last closed (closing
// resets it): an endpoint that keeps failing its probes is probed less and
// less often, one that recovers starts again from the short cool-down.
// Quota exhausted opens at once, from any state, for `quota_cool_down_us`
// (default one hour, not doubled): a spent quota or spend limit does not
// come back within seconds (someone must add credit or the period must
// roll over), and a probe an hour costs one request; once the quota is back
// the probe closes the breaker by itself.
//
// Only the probe's outcome moves a half-open breaker; a request sent before
// the breaker opened that ends later (stale) changes no state. A neutral
// outcome (bad_request, canceled: nothing learnt about the endpoint) frees
// the probe slot and leaves the breaker half-open.
//
// Transition reasons are stable strings (journaled, shown by `troupe show`):
// "consecutive failures", "error rate", "quota exhausted", "cool-down
// elapsed", "probe succeeded", "probe failed".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe {

enum class breaker_state : uint8_t { closed, open, half_open };

[[nodiscard]] std::string_view to_string(breaker_state s);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, breaker_state& out);

struct breaker_config {
  uint32_t failure_threshold = 5;     ///< consecutive counted failures that open it
  double error_rate_threshold = 0.5;  ///< error-rate EWMA above this opens it...
  uint32_t min_requests = 10;         ///< ...once this many outcomes were seen since closing
  int64_t cool_down_us = 30'000'000;  ///< first open: 30 s
  int64_t max_cool_down_us = 600'000'000;       ///< cap of the doubling: 10 min
  int64_t quota_cool_down_us = 3'600'000'000;   ///< quota exhausted: 1 h
};

struct breaker {
  breaker_state state = breaker_state::closed;
  int64_t open_until_us = 0; ///< open: when the cool-down ends
  uint32_t opens = 0;        ///< opens since it last closed (the cool-down exponent)
  uint32_t samples = 0;      ///< counted outcomes since it last closed (min_requests)
  bool probe_in_flight = false; ///< half_open: the one probe is out
};

struct breaker_transition {
  breaker_state from = breaker_state::closed;
  breaker_state to = breaker_state::closed;
  std::string reason;
  int64_t open_until_us = 0; ///< when `to` is open: the end of its cool-down
};

/// What one ended attempt says about the endpoint, as the breaker reads it
/// (endpoint_health's `observe` builds it).
struct breaker_signal {
  enum class kind : uint8_t {
    success,
    failure, ///< a failure that counts against the endpoint
    quota,   ///< quota_exhausted
    neutral, ///< says nothing about the endpoint (bad_request, canceled)
  };
  kind what = kind::success;
  bool probe = false; ///< the attempt was the half-open probe (take_probe said so)
  uint32_t consecutive_failures = 0; ///< counted failures in a row, this one included
  double error_rate = 0;             ///< the EWMA, this outcome included
};

/// Whether a request may be sent now: closed; open with its cool-down over
/// (end_cool_down will make it half-open); half-open with the probe free.
[[nodiscard]] bool admits(const breaker& b, int64_t now_us);

/// open → half_open once `now_us ≥ open_until_us`; nothing otherwise.
[[nodiscard]] std::optional<breaker_transition> end_cool_down(breaker& b, int64_t now_us);

/// Marks the half-open probe as sent. Returns false, changing nothing, when
/// the breaker is not half-open or its probe is already out.
[[nodiscard]] bool take_probe(breaker& b);

/// Folds one ended attempt into the breaker; returns the transition, if any.
[[nodiscard]] std::optional<breaker_transition>
record_outcome(breaker& b, const breaker_signal& s, int64_t now_us, const breaker_config& cfg);

/// The cool-down of the `opens`-th open since the breaker last closed (≥ 1).
[[nodiscard]] int64_t cool_down_of(uint32_t opens, const breaker_config& cfg);

} // namespace troupe
