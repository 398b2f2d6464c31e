// Tenant quotas: the token bucket, the submission verdicts (429 and 402 with
// the quota's name and Retry-After), the budget a new run may get, and the
// UTC day and month windows they renew on.

#include <cstdint>
#include <ctime>
#include <limits>
#include <random>

#include <boost/test/unit_test.hpp>

#include "core/jobs/quota.hpp"
#include "core/jobs/utc_time.hpp"

using namespace troupe::jobs;

namespace {

constexpr int64_t s = 1'000'000;

// 2024-02-29T13:45:10.5Z: a leap day.
constexpr int64_t leap_day = 1'709'214'310'500'000;

int64_t at(int64_t y, uint32_t m, uint32_t d, int64_t secs = 0) {
  return days_from_civil({y, m, d}) * us_per_day + secs * s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(quota)

BOOST_AUTO_TEST_CASE(civil_dates_agree_with_gmtime) {
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int64_t> secs(-70'000'000'000, 250'000'000'000);
  for (int i = 0; i < 20000; ++i) {
    auto t = static_cast<std::time_t>(secs(rng));
    std::tm tm{};
    BOOST_REQUIRE(gmtime_r(&t, &tm));
    auto days = static_cast<int64_t>(t) >= 0 ? t / 86400 : (t - 86399) / 86400;
    auto d = civil_from_days(days);
    BOOST_REQUIRE_EQUAL(d.year, int64_t{tm.tm_year} + 1900);
    BOOST_REQUIRE_EQUAL(d.month, static_cast<uint32_t>(tm.tm_mon + 1));
    BOOST_REQUIRE_EQUAL(d.day, static_cast<uint32_t>(tm.tm_mday));
    BOOST_REQUIRE_EQUAL(days_from_civil(d), days);
  }
  BOOST_TEST(days_from_civil({1970, 1, 1}) == 0);
  BOOST_TEST(days_from_civil({1969, 12, 31}) == -1);
  BOOST_TEST(days_from_civil({2000, 3, 1}) - days_from_civil({2000, 2, 28}) == 2); // 400: leap
  BOOST_TEST(days_from_civil({2100, 3, 1}) - days_from_civil({2100, 2, 28}) == 1); // 100: not
  BOOST_TEST(days_from_civil({2024, 3, 1}) - days_from_civil({2024, 2, 28}) == 2);
  BOOST_TEST(days_from_civil({2023, 3, 1}) - days_from_civil({2023, 2, 28}) == 1);
}

BOOST_AUTO_TEST_CASE(day_and_month_windows_across_month_year_and_leap_ends) {
  BOOST_TEST(rfc3339_utc(leap_day) == "2024-02-29T13:45:10.500000Z");
  BOOST_TEST(day_start_us(leap_day) == at(2024, 2, 29));
  BOOST_TEST(next_day_start_us(leap_day) == at(2024, 3, 1));
  BOOST_TEST(month_start_us(leap_day) == at(2024, 2, 1));
  BOOST_TEST(next_month_start_us(leap_day) == at(2024, 3, 1));
  // The last microsecond of a year, and the first of the next.
  auto last = at(2023, 12, 31, 86399) + 999'999;
  BOOST_TEST(rfc3339_utc(last) == "2023-12-31T23:59:59.999999Z");
  BOOST_TEST(day_start_us(last) == at(2023, 12, 31));
  BOOST_TEST(month_start_us(last) == at(2023, 12, 1));
  BOOST_TEST(next_month_start_us(last) == at(2024, 1, 1));
  BOOST_TEST(next_day_start_us(last) == at(2024, 1, 1));
  BOOST_TEST(day_start_us(last + 1) == last + 1);
  BOOST_TEST(month_start_us(last + 1) == last + 1);
  BOOST_TEST(next_month_start_us(last + 1) == at(2024, 2, 1));
  // February of a year that is not leap (1900, 2100 by the 100-year rule).
  BOOST_TEST(next_month_start_us(at(2100, 2, 28, 3600)) == at(2100, 3, 1));
  BOOST_TEST(next_month_start_us(at(2000, 2, 29, 3600)) == at(2000, 3, 1));
  BOOST_TEST(next_day_start_us(at(2100, 2, 28, 3600)) == at(2100, 3, 1));
  BOOST_TEST(next_month_start_us(at(2024, 1, 31, 86399)) == at(2024, 2, 1));
  BOOST_TEST(next_month_start_us(at(2024, 4, 30)) == at(2024, 5, 1));
  // Before 1970 days still start at midnight (rounding toward the past).
  BOOST_TEST(day_start_us(-1) == -us_per_day);
  BOOST_TEST(rfc3339_utc(-1) == "1969-12-31T23:59:59.999999Z");
  BOOST_TEST(month_start_us(-1) == at(1969, 12, 1));
  BOOST_TEST(rfc3339_utc(0) == "1970-01-01T00:00:00.000000Z");
  // The far ends saturate rather than wrap.
  auto max = std::numeric_limits<int64_t>::max();
  BOOST_TEST(next_month_start_us(max) == max);
  BOOST_TEST(next_day_start_us(max) == max);
  BOOST_TEST(day_start_us(max) <= max);
  BOOST_TEST(!rfc3339_utc(std::numeric_limits<int64_t>::min()).empty());
}

BOOST_AUTO_TEST_CASE(every_month_start_is_a_first_at_midnight) {
  std::mt19937_64 rng(77);
  std::uniform_int_distribution<int64_t> when(0, 4'102'444'800 * s); // 1970..2100
  for (int i = 0; i < 5000; ++i) {
    auto t = when(rng);
    auto m = month_start_us(t), n = next_month_start_us(t);
    BOOST_REQUIRE(m <= t);
    BOOST_REQUIRE(t < n);
    auto dm = civil_from_days(m / us_per_day), dn = civil_from_days(n / us_per_day);
    BOOST_REQUIRE(m % us_per_day == 0);
    BOOST_REQUIRE(n % us_per_day == 0);
    BOOST_REQUIRE(dm.day == 1u);
    BOOST_REQUIRE(dn.day == 1u);
    BOOST_REQUIRE(dn.month == dm.month % 12 + 1);
    auto len = (n - m) / us_per_day;
    BOOST_REQUIRE((len >= 28 && len <= 31));
    BOOST_REQUIRE(day_start_us(t) <= t);
    BOOST_REQUIRE(t - day_start_us(t) < us_per_day);
    BOOST_REQUIRE(next_day_start_us(t) - day_start_us(t) == us_per_day);
  }
}

BOOST_AUTO_TEST_CASE(the_bucket_bursts_one_minute_then_refills_at_its_rate) {
  token_bucket b;
  auto t = leap_day;
  for (int i = 0; i < 6; ++i)
    BOOST_TEST(take(b, 6, t).ok); // burst: one minute's worth, at once
  auto refused = take(b, 6, t);
  BOOST_TEST(!refused.ok);
  BOOST_TEST(refused.retry_after_s == 10); // 6 per minute: one every 10 s
  BOOST_TEST(!take(b, 6, t + 10 * s - 1).ok);
  BOOST_TEST(take(b, 6, t + 10 * s).ok);
  BOOST_TEST(!take(b, 6, t + 10 * s).ok);
  // An hour idle refills one minute's worth, no more.
  t += 3600 * s;
  for (int i = 0; i < 6; ++i)
    BOOST_TEST(take(b, 6, t).ok);
  BOOST_TEST(!take(b, 6, t).ok);
  // Partial waits round up to whole seconds, never 0.
  BOOST_TEST(take(b, 6, t + 9'500'000).retry_after_s == 1);
}

// Asked every microsecond, a slow bucket still refills: no refill is lost
// to rounding.
BOOST_AUTO_TEST_CASE(frequent_asks_lose_no_refill) {
  token_bucket b;
  auto t = leap_day;
  BOOST_TEST(take(b, 1, t).ok);
  int granted = 0;
  for (int64_t us = 1; us <= 60 * s; us += 997)
    granted += take(b, 1, t + us).ok;
  BOOST_TEST(granted == 0); // the minute is not over before t + 60 s
  BOOST_TEST(take(b, 1, t + 60 * s).ok);
  BOOST_TEST(take(b, 0, t).ok); // 0: unlimited
  // The clock stepping back refills nothing.
  token_bucket c;
  BOOST_TEST(take(c, 1, t).ok);
  BOOST_TEST(!take(c, 1, t - 3600 * s).ok);
  BOOST_TEST(!take(c, 1, t + 30 * s).ok);
  BOOST_TEST(take(c, 1, t + 60 * s).ok);
  // A lowered quota holds at most its new minute's worth.
  token_bucket d;
  BOOST_TEST(take(d, 100, t).ok);
  BOOST_TEST(take(d, 2, t).ok);
  BOOST_TEST(take(d, 2, t).ok);
  BOOST_TEST(!take(d, 2, t).ok);
}

BOOST_AUTO_TEST_CASE(submissions_are_refused_with_the_quota_named) {
  tenant_quota q;
  q.submissions_per_minute = 2;
  q.max_queued = 3;
  q.tokens_per_day = 1000;
  q.cost_micro_usd_per_month = 5'000'000;
  token_bucket b;
  tenant_usage u{2, 1, 999, 4'999'999, 0, 0};
  BOOST_TEST(check_submission(q, u, b, leap_day).ok);

  auto tokens = u;
  tokens.tokens_today = 1000;
  auto v = check_submission(q, tokens, b, leap_day);
  BOOST_TEST(!v.ok);
  BOOST_TEST(v.http_status == 402);
  BOOST_TEST(v.quota == "tokens_per_day");
  BOOST_TEST(v.retry_after_s == (at(2024, 3, 1) - leap_day + s - 1) / s); // to midnight UTC
  BOOST_TEST(v.detail.find("2024-03-01T00:00:00.000000Z") != std::string::npos, v.detail);
  tokens.tokens_today = 900;
  tokens.tokens_held = 100; // held by running runs counts as spent
  BOOST_TEST(check_submission(q, tokens, b, leap_day).quota == "tokens_per_day");

  auto cost = u;
  cost.cost_this_month_micro_usd = 7'000'000;
  v = check_submission(q, cost, b, leap_day);
  BOOST_TEST(v.http_status == 402);
  BOOST_TEST(v.quota == "cost_micro_usd_per_month");
  BOOST_TEST(v.retry_after_s == (at(2024, 3, 1) - leap_day + s - 1) / s);
  v = check_submission(q, cost, b, at(2024, 3, 1));
  BOOST_TEST(v.retry_after_s == 31 * 86400); // all of March

  auto queued = u;
  queued.queued = 3;
  v = check_submission(q, queued, b, leap_day);
  BOOST_TEST(v.http_status == 429);
  BOOST_TEST(v.quota == "max_queued");
  BOOST_TEST(v.retry_after_s == default_queue_retry_after_s);
  BOOST_TEST(check_submission(q, queued, b, leap_day, 30).retry_after_s == 30);

  // The refusals above took no token: the rate still has its second one.
  BOOST_TEST(check_submission(q, u, b, leap_day).ok);
  v = check_submission(q, u, b, leap_day);
  BOOST_TEST(v.http_status == 429);
  BOOST_TEST(v.quota == "submissions_per_minute");
  BOOST_TEST(v.retry_after_s == 30);
  BOOST_TEST(!v.detail.empty());
}

BOOST_AUTO_TEST_CASE(the_budget_first_then_the_queue_then_the_rate) {
  tenant_quota q{0, 1, 10, 0, 1};
  token_bucket b;
  tenant_usage over{5, 0, 10, 0, 0, 0};
  BOOST_TEST(check_submission(q, over, b, leap_day).http_status == 402);
  tenant_usage full{1, 0, 0, 0, 0, 0};
  BOOST_TEST(check_submission(q, full, b, leap_day).quota == "max_queued");
  BOOST_TEST(check_submission(q, {}, b, leap_day).ok);
  BOOST_TEST(check_submission(q, {}, b, leap_day).quota == "submissions_per_minute");
  // Unlimited everything: always ok.
  token_bucket free;
  for (int i = 0; i < 1000; ++i)
    BOOST_REQUIRE(check_submission({}, {1000, 1000, ~0ull, ~0ull, 0, 0}, free, leap_day).ok);
}

BOOST_AUTO_TEST_CASE(a_new_run_gets_at_most_what_is_left) {
  tenant_quota q;
  auto none = run_budget_cap(q, {0, 0, 123, 456, 0, 0});
  BOOST_TEST(!none.max_tokens);
  BOOST_TEST(!none.max_cost_micro_usd);
  BOOST_TEST(!none.exhausted());
  q.tokens_per_day = 10'000;
  q.cost_micro_usd_per_month = 2'000'000;
  auto left = run_budget_cap(q, {0, 2, 6'000, 500'000, 1'000, 250'000});
  BOOST_TEST((left.max_tokens == uint64_t{3'000}));
  BOOST_TEST((left.max_cost_micro_usd == uint64_t{1'250'000}));
  BOOST_TEST(!left.exhausted());
  auto spent = run_budget_cap(q, {0, 0, 12'000, 0, 0, 0});
  BOOST_TEST((spent.max_tokens == uint64_t{0}));
  BOOST_TEST(spent.exhausted());
  auto held = run_budget_cap(q, {0, 0, 0, 1'000'000, 0, ~0ull}); // no overflow
  BOOST_TEST((held.max_cost_micro_usd == uint64_t{0}));
  BOOST_TEST(held.exhausted());
}

BOOST_AUTO_TEST_SUITE_END()
