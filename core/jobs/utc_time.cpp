#include "core/jobs/utc_time.hpp"

#include <cinttypes>
#include <cstdio>

#include "core/saturating_time.hpp"

namespace troupe::jobs {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Any civil date from an int64_t instant is at most ~3e8 years away; its
// day count times us_per_day can still leave int64_t: saturate.
int64_t start_of_day(int64_t days) {
  if (days > max_time_us / us_per_day)
    return max_time_us;
  if (days < -(max_time_us / us_per_day))
    return -max_time_us;
  return days * us_per_day;
}

} // namespace

// Howard Hinnant's days_from_civil / civil_from_days
// (http://howardhinnant.github.io/date_algorithms.html): eras of 400 years
// starting on March 1st, so the leap day is the last day of its year.
int64_t days_from_civil(const civil_date& d) {
  int64_t y = d.year - (d.month <= 2 ? 1 : 0);
  int64_t era = floor_div(y, 400);
  auto yoe = static_cast<uint32_t>(y - era * 400);
  uint32_t doy = (153 * (d.month > 2 ? d.month - 3 : d.month + 9) + 2) / 5 + d.day - 1;
  uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

civil_date civil_from_days(int64_t days) {
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  auto doe = static_cast<uint32_t>(z - era * 146097);
  uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint32_t mp = (5 * doy + 2) / 153;
  uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t day_start_us(int64_t now_us) {
  return start_of_day(floor_div(now_us, us_per_day));
}

int64_t next_day_start_us(int64_t now_us) {
  return start_of_day(floor_div(now_us, us_per_day) + 1);
}

int64_t month_start_us(int64_t now_us) {
  auto d = civil_from_days(floor_div(now_us, us_per_day));
  return start_of_day(days_from_civil({d.year, d.month, 1}));
}

int64_t next_month_start_us(int64_t now_us) {
  auto d = civil_from_days(floor_div(now_us, us_per_day));
  civil_date next = d.month == 12 ? civil_date{d.year + 1, 1, 1}
                                  : civil_date{d.year, d.month + 1, 1};
  return start_of_day(days_from_civil(next));
}

std::string rfc3339_utc(int64_t us) {
  auto days = floor_div(us, us_per_day);
  auto in_day = us % us_per_day; // without days × us_per_day, which can overflow
  if (in_day < 0)
    in_day += us_per_day;
  auto d = civil_from_days(days);
  auto secs = in_day / 1'000'000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%06dZ", d.year,
                d.month, d.day, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                static_cast<int>(in_day % 1'000'000));
  return buf;
}

} // namespace troupe::jobs
