#include "core/tool_budget.hpp"

#include <algorithm>
#include <limits>

namespace troupe {

namespace {

constexpr uint64_t max_u64 = std::numeric_limits<uint64_t>::max();

uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? max_u64 : out;
}

// now - started, or 0 when the clock went back (or would overflow into
// nonsense): a run cannot have used negative time.
uint64_t elapsed_us(int64_t started_us, int64_t now_us) {
  int64_t out = 0;
  if (__builtin_sub_overflow(now_us, started_us, &out))
    return now_us > started_us ? max_u64 : 0;
  return out > 0 ? static_cast<uint64_t>(out) : 0;
}

} // namespace

tool_wait tool_wait_for(std::chrono::milliseconds tool_timeout, uint64_t deadline_ms,
                        int64_t started_us, int64_t now_us) noexcept {
  using ms = std::chrono::milliseconds;
  auto timeout = std::max<ms::rep>(tool_timeout.count(), 0);
  if (deadline_ms == 0)
    return {ms{timeout}, false};
  auto budget_us = saturating_mul(deadline_ms, 1000);
  auto used_us = elapsed_us(started_us, now_us);
  if (used_us >= budget_us)
    return {ms{0}, true};
  auto left_us = budget_us - used_us;
  auto left_ms = left_us / 1000 + (left_us % 1000 != 0 ? 1 : 0);
  if (left_ms < static_cast<uint64_t>(timeout))
    return {ms{static_cast<ms::rep>(left_ms)}, true};
  return {ms{timeout}, false};
}

std::string tool_timeout_text(const std::string& tool, const tool_wait& w) {
  auto n = std::to_string(w.wait.count());
  auto bound = w.cut_by_deadline ? " ms, when the run's deadline (deadline_ms) passed"
                                 : " ms (the tool timeout)";
  return tool + ": timed out after " + n + bound
         + "; the run stopped waiting, so whether the call had any effect is unknown";
}

std::string tool_not_started_text(const std::string& tool, uint64_t deadline_ms) {
  return tool + ": not run: the run's deadline of " + std::to_string(deadline_ms)
         + " ms passed before the call could start";
}

} // namespace troupe
