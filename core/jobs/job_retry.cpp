#include "core/jobs/job_retry.hpp"

#include <algorithm>
#include <cmath>

#include "core/model_provider.hpp"
#include "core/saturating_time.hpp"

namespace troupe::jobs {

bool is_infrastructure_failure(run_status status, std::string_view reason,
                               std::string_view last_model_failure) {
  if (status != run_status::limit_reached && status != run_status::failed)
    return false;
  if (reason != "provider_failed")
    return false;
  model_failure f = model_failure::none;
  // An unknown name is a journal written by another version: no guess.
  return from_string(last_model_failure, f) && retryable(f);
}

int64_t backoff_ceiling_us(uint32_t attempts, int64_t base_delay_us, int64_t max_delay_us) {
  auto cap = std::max<int64_t>(max_delay_us, 0);
  auto d = std::min(std::max<int64_t>(base_delay_us, 0), cap);
  for (uint32_t n = 1; n < attempts && d < cap; ++n)
    d = d > cap / 2 ? cap : d * 2;
  return d;
}

retry_decision next_attempt(uint32_t attempts, uint32_t max_attempts, int64_t base_delay_us,
                            int64_t max_delay_us, double random01, int64_t now_us) {
  if (attempts >= std::max<uint32_t>(max_attempts, 1))
    return {retry_decision::kind::dead_letter, 0, 0};
  double r = std::isnan(random01) ? 0.0 : std::clamp(random01, 0.0, 1.0);
  auto ceiling = backoff_ceiling_us(attempts, base_delay_us, max_delay_us);
  // Near 2^63 a double rounds up past int64_t: compare before the cast.
  double x = r * static_cast<double>(ceiling);
  auto delay = x >= static_cast<double>(ceiling) ? ceiling : static_cast<int64_t>(x);
  return {retry_decision::kind::retry, delay, add_us(now_us, delay)};
}

} // namespace troupe::jobs
