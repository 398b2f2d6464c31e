#include "core/gateway/endpoint_health.hpp"

#include <algorithm>
#include <cmath>

namespace troupe {

namespace {

double clamp_alpha(double a) {
  // NaN and out-of-range weights fall back to the documented default.
  return a > 0 && a <= 1 ? a : 0.2;
}

void fold(double& ewma, double x, double alpha, bool first) {
  ewma = first ? x : alpha * x + (1 - alpha) * ewma;
}

double to_ms(uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

void count_success(endpoint_health& h, const attempt_outcome& o, int64_t now_us,
                   double alpha) {
  fold(h.latency_ms, to_ms(o.latency_us), alpha, h.successes == 0);
  push(h.latencies, o.latency_us);
  if (o.first_token_us > 0) {
    fold(h.first_token_ms, to_ms(o.first_token_us), alpha, h.first_tokens.size == 0);
    push(h.first_tokens, o.first_token_us);
  }
  fold(h.error_rate, 0, alpha, false);
  h.consecutive_failures = 0;
  ++h.successes;
  h.last_success_us = now_us;
}

void count_failure(endpoint_health& h, int64_t now_us, double alpha) {
  fold(h.error_rate, 1, alpha, false);
  if (h.consecutive_failures < UINT32_MAX)
    ++h.consecutive_failures;
  ++h.failures;
  h.last_failure_us = now_us;
}

} // namespace

void push(latency_window& w, uint64_t us) {
  w.samples_us[w.next] = us;
  w.next = (w.next + 1) % latency_window::capacity;
  w.size = std::min(w.size + 1, latency_window::capacity);
}

std::optional<uint64_t> quantile_us(const latency_window& w, double q) {
  if (w.size == 0)
    return std::nullopt;
  q = std::isnan(q) ? 0.5 : std::clamp(q, 0.0, 1.0);
  // The window holds the last `size` samples; which slots they fill does
  // not matter to a quantile.
  std::array<uint64_t, latency_window::capacity> sorted = w.samples_us;
  auto end = sorted.begin() + w.size;
  // Nearest rank: the ceil(q·n)-th smallest, counting from 1.
  auto rank = static_cast<uint32_t>(std::ceil(q * w.size));
  auto idx = rank == 0 ? 0 : rank - 1;
  std::nth_element(sorted.begin(), sorted.begin() + idx, end);
  return sorted[idx];
}

failure_weight weigh(model_failure f) {
  switch (f) {
    case model_failure::none:
      return failure_weight::success;
    case model_failure::rate_limited:
    case model_failure::overloaded:
    case model_failure::server_error:
    case model_failure::timeout:
    case model_failure::connection:
    case model_failure::malformed:
      return failure_weight::counted;
    case model_failure::quota_exhausted:
      return failure_weight::quota;
    case model_failure::bad_request:
    case model_failure::canceled:
    case model_failure::exhausted:
      return failure_weight::ignored;
  }
  return failure_weight::ignored;
}

bool admits(const endpoint_health& h, int64_t now_us) {
  return admits(h.breaker, now_us);
}

std::optional<breaker_transition> refresh(endpoint_health& h, int64_t now_us) {
  return end_cool_down(h.breaker, now_us);
}

attempt_start begin_attempt(endpoint_health& h, int64_t now_us) {
  attempt_start st;
  if (!admits(h.breaker, now_us))
    return st;
  st.transition = end_cool_down(h.breaker, now_us);
  if (h.breaker.state == breaker_state::half_open)
    st.probe = take_probe(h.breaker);
  st.admitted = true;
  ++h.in_flight;
  return st;
}

std::optional<breaker_transition> observe(endpoint_health& h, const attempt_outcome& o,
                                          int64_t now_us, const health_config& cfg) {
  auto alpha = clamp_alpha(cfg.alpha);
  if (h.in_flight > 0)
    --h.in_flight;
  ++h.requests;
  breaker_signal s;
  s.probe = o.probe;
  switch (weigh(o.failure)) {
    case failure_weight::success:
      count_success(h, o, now_us, alpha);
      s.what = breaker_signal::kind::success;
      break;
    case failure_weight::counted:
      count_failure(h, now_us, alpha);
      s.what = breaker_signal::kind::failure;
      break;
    case failure_weight::quota:
      count_failure(h, now_us, alpha);
      s.what = breaker_signal::kind::quota;
      break;
    case failure_weight::ignored:
      s.what = breaker_signal::kind::neutral;
      break;
  }
  s.consecutive_failures = h.consecutive_failures;
  s.error_rate = h.error_rate;
  return record_outcome(h.breaker, s, now_us, cfg.breaker);
}

double health_score(const endpoint_health& h, const health_config& cfg) {
  auto err = std::isnan(h.error_rate) ? 1.0 : std::clamp(h.error_rate, 0.0, 1.0);
  auto ref = cfg.latency_ref_ms > 0 ? cfg.latency_ref_ms : 2000.0;
  auto lat = h.latency_ms > 0 ? h.latency_ms : 0.0; // NaN and negatives: unmeasured
  return (1 - err) * ref / (ref + lat);
}

void forget_in_flight(endpoint_health& h) {
  h.in_flight = 0;
  h.breaker.probe_in_flight = false;
}

} // namespace troupe
