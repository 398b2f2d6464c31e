#include "core/gateway/attempt_plan.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/gateway/endpoint_health.hpp"
#include "core/saturating_time.hpp"

namespace troupe {

namespace {

constexpr std::array<std::string_view, 3> action_names{"retry_same", "fall_back", "give_up"};

attempt_plan plan(attempt_action a, const failed_attempt& f, std::string_view what,
                  int64_t delay_us = 0) {
  return {a, delay_us, std::string(to_string(f.failure)) + ": " + std::string(what)};
}

attempt_plan fall_back_or_give_up(const failed_attempt& f, std::string_view why_fall_back,
                                  std::string_view why_give_up) {
  return f.can_fall_back ? plan(attempt_action::fall_back, f, why_fall_back)
                         : plan(attempt_action::give_up, f, why_give_up);
}

attempt_plan retry_or_fall_back(const failed_attempt& f, double draw, const retry_config& cfg) {
  auto backoff = backoff_us(f.endpoint_attempts, draw, cfg);
  auto asked = ms_to_us(std::min(f.retry_after_ms, cfg.max_retry_after_ms));
  auto delay = std::max(asked, backoff);
  if (f.can_fall_back && delay > cfg.max_same_endpoint_wait_us)
    return plan(attempt_action::fall_back, f, "wait too long: falling back");
  return plan(attempt_action::retry_same, f,
              asked >= backoff ? "retry after the server's delay" : "retry after backoff",
              delay);
}

} // namespace

std::string_view to_string(attempt_action a) {
  return action_names[static_cast<size_t>(a)];
}

bool from_string(std::string_view name, attempt_action& out) {
  for (size_t i = 0; i < action_names.size(); ++i)
    if (action_names[i] == name) {
      out = static_cast<attempt_action>(i);
      return true;
    }
  return false;
}

int64_t backoff_us(uint32_t k, double draw, const retry_config& cfg) {
  draw = std::isnan(draw) ? 0.5 : std::clamp(draw, 0.0, 1.0);
  auto base = static_cast<double>(std::max<int64_t>(cfg.base_delay_us, 0))
              * std::ldexp(1.0, static_cast<int>(std::min<uint32_t>(k > 0 ? k - 1 : 0, 62)));
  auto delay = std::min(base * (0.5 + draw),
                        static_cast<double>(std::max<int64_t>(cfg.max_delay_us, 0)));
  return static_cast<int64_t>(delay);
}

attempt_plan next_attempt(const failed_attempt& f, double draw, const retry_config& cfg) {
  if (f.failure == model_failure::canceled)
    return plan(attempt_action::give_up, f, "the run canceled it");
  if (f.attempts >= cfg.max_attempts)
    return plan(attempt_action::give_up, f, "max attempts reached");
  if (f.failure == model_failure::bad_request)
    return plan(attempt_action::give_up, f, "not retried");
  if (f.failure == model_failure::quota_exhausted)
    return fall_back_or_give_up(f, "falling back", "no other candidate");
  if (!retryable(f.failure))
    return plan(attempt_action::give_up, f, "not retryable");
  if (f.failure == model_failure::timeout && f.can_fall_back)
    return plan(attempt_action::fall_back, f, "falling back");
  if (f.endpoint_attempts < cfg.max_attempts_per_endpoint && f.endpoint_admits)
    return retry_or_fall_back(f, draw, cfg);
  return fall_back_or_give_up(
    f, f.endpoint_admits ? "endpoint retries used: falling back" : "breaker open: falling back",
    f.endpoint_admits ? "retries used on every candidate" : "breaker open, no other candidate");
}

std::optional<int64_t> hedge_delay_us(const endpoint_health& h, const hedge_config& cfg) {
  if (!cfg.enabled)
    return std::nullopt;
  auto need = std::clamp<uint32_t>(cfg.min_samples, 1, latency_window::capacity);
  const latency_window* w = h.first_tokens.size >= need ? &h.first_tokens
                            : h.latencies.size >= need ? &h.latencies
                                                       : nullptr;
  if (w == nullptr)
    return std::nullopt;
  auto q = quantile_us(*w, cfg.quantile);
  if (!q)
    return std::nullopt;
  auto us = *q > static_cast<uint64_t>(max_time_us) ? max_time_us : static_cast<int64_t>(*q);
  return std::max(us, cfg.min_delay_us);
}

} // namespace troupe
