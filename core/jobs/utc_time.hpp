#pragma once
// UTC calendar arithmetic on microseconds since the Unix epoch: the windows
// of tenant quotas (a day, a month) and RFC 3339 timestamps for the API.
// Pure (proleptic Gregorian, no leap seconds, as Unix time); no time zone,
// no locale, no libc calls, so every int64_t instant has an answer: before
// 1970 rounds toward the past, and results beyond int64_t saturate at
// ±max_time_us (core/saturating_time.hpp).

#include <cstdint>
#include <string>

namespace troupe::jobs {

inline constexpr int64_t us_per_day = 86'400'000'000;

struct civil_date {
  int64_t year = 1970;
  uint32_t month = 1; ///< 1..12
  uint32_t day = 1;   ///< 1..31
};

/// Days since 1970-01-01 of `d` (negative before). `d` must be a real date.
[[nodiscard]] int64_t days_from_civil(const civil_date& d);
/// The date `days` after 1970-01-01.
[[nodiscard]] civil_date civil_from_days(int64_t days);

/// 00:00 UTC of the day `now_us` is in.
[[nodiscard]] int64_t day_start_us(int64_t now_us);
/// 00:00 UTC of the next day.
[[nodiscard]] int64_t next_day_start_us(int64_t now_us);
/// 00:00 UTC of the first day of the month `now_us` is in.
[[nodiscard]] int64_t month_start_us(int64_t now_us);
/// 00:00 UTC of the first day of the next month.
[[nodiscard]] int64_t next_month_start_us(int64_t now_us);

/// `2024-02-29T23:59:59.123456Z`: RFC 3339 in UTC with microseconds. Years
/// outside 0000..9999 (not representable in RFC 3339) print as their number.
[[nodiscard]] std::string rfc3339_utc(int64_t us);

} // namespace troupe::jobs
