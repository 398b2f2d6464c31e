#pragma once
// Time arithmetic that cannot overflow. Limits are documented up to 2^63-1
// milliseconds (deadline_ms, approval_timeout_ms); in microseconds, or added
// to a clock reading, they leave int64_t. Every conversion saturates instead,
// so "very far" stays very far rather than wrapping into the past.

#include <cstdint>
#include <limits>

namespace troupe {

inline constexpr int64_t max_time_us = std::numeric_limits<int64_t>::max();

/// `ms` in microseconds, at most max_time_us.
[[nodiscard]] constexpr int64_t ms_to_us(uint64_t ms) noexcept {
  return ms > static_cast<uint64_t>(max_time_us / 1000) ? max_time_us
                                                        : static_cast<int64_t>(ms * 1000);
}

/// `a + b` for b >= 0, at most max_time_us.
[[nodiscard]] constexpr int64_t add_us(int64_t a, int64_t b) noexcept {
  return b > 0 && a > max_time_us - b ? max_time_us : a + b;
}

/// `later - earlier`, at least 0 and at most max_time_us.
[[nodiscard]] constexpr int64_t elapsed_us(int64_t earlier, int64_t later) noexcept {
  if (later <= earlier)
    return 0;
  if (earlier < 0 && later > max_time_us + earlier)
    return max_time_us;
  return later - earlier;
}

} // namespace troupe
