#include "core/jobs/quota.hpp"

#include <algorithm>

#include "core/jobs/utc_time.hpp"
#include "core/saturating_time.hpp"

namespace troupe::jobs {

namespace {

constexpr int64_t us_per_s = 1'000'000;
constexpr int64_t minute_us = 60 * us_per_s;
// The bucket's unit: refilling at per_minute tokens per minute adds exactly
// per_minute units per microsecond.
constexpr int64_t units_per_token = minute_us;

int64_t ceil_div(int64_t a, int64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

int64_t seconds_until(int64_t later_us, int64_t now_us) {
  return std::max<int64_t>(ceil_div(elapsed_us(now_us, later_us), us_per_s), 1);
}

std::optional<uint64_t> remaining(uint64_t quota, uint64_t spent, uint64_t held) {
  if (quota == 0)
    return std::nullopt;
  auto used = spent > UINT64_MAX - held ? UINT64_MAX : spent + held;
  return used >= quota ? 0 : quota - used;
}

submission_verdict refuse(int status, const char* quota, int64_t retry_after_s,
                          std::string detail) {
  return {false, status, quota, retry_after_s, std::move(detail)};
}

std::string n(uint64_t x) {
  return std::to_string(x);
}

} // namespace

take_result take(token_bucket& b, uint32_t per_minute, int64_t now_us) {
  if (per_minute == 0)
    return {};
  auto rate = static_cast<int64_t>(per_minute);
  auto capacity = rate * units_per_token; // ≤ 2^32 × 6e7 < 2^63
  if (!b.started) {
    b = {capacity, now_us, true};
  } else if (now_us > b.updated_us) {
    // A full minute refills any bucket: capping the elapsed time keeps the
    // product in range.
    auto elapsed = std::min(elapsed_us(b.updated_us, now_us), minute_us);
    b.level = std::min(capacity, b.level + elapsed * rate);
    b.updated_us = now_us;
  }
  b.level = std::min(b.level, capacity); // the quota may have been lowered
  if (b.level >= units_per_token) {
    b.level -= units_per_token;
    return {};
  }
  auto wait_us = ceil_div(units_per_token - b.level, rate);
  return {false, std::max<int64_t>(ceil_div(wait_us, us_per_s), 1)};
}

submission_verdict check_submission(const tenant_quota& q, const tenant_usage& usage,
                                    token_bucket& bucket, int64_t now_us,
                                    int64_t queue_retry_after_s) {
  auto budget = run_budget_cap(q, usage);
  if (budget.max_tokens == uint64_t{0}) {
    auto renews = next_day_start_us(now_us);
    return refuse(402, "tokens_per_day", seconds_until(renews, now_us),
                  "the tenant's tokens_per_day quota (" + n(q.tokens_per_day)
                    + ") is used up: " + n(usage.tokens_today) + " spent today, "
                    + n(usage.tokens_held) + " held by running runs; it renews at "
                    + rfc3339_utc(renews));
  }
  if (budget.max_cost_micro_usd == uint64_t{0}) {
    auto renews = next_month_start_us(now_us);
    return refuse(402, "cost_micro_usd_per_month", seconds_until(renews, now_us),
                  "the tenant's cost_micro_usd_per_month quota ("
                    + n(q.cost_micro_usd_per_month) + ") is used up: "
                    + n(usage.cost_this_month_micro_usd) + " spent this month, "
                    + n(usage.cost_held_micro_usd) + " held by running runs; it renews at "
                    + rfc3339_utc(renews));
  }
  if (q.max_queued != 0 && usage.queued >= q.max_queued)
    return refuse(429, "max_queued", std::max<int64_t>(queue_retry_after_s, 1),
                  "the tenant has " + n(usage.queued) + " jobs queued, its max_queued quota");
  if (auto t = take(bucket, q.submissions_per_minute, now_us); !t.ok)
    return refuse(429, "submissions_per_minute", t.retry_after_s,
                  "the tenant's submissions_per_minute quota ("
                    + n(q.submissions_per_minute) + ") is used; a submission is possible again in "
                    + n(static_cast<uint64_t>(t.retry_after_s)) + " s");
  return {};
}

run_budget run_budget_cap(const tenant_quota& q, const tenant_usage& usage) {
  return {remaining(q.tokens_per_day, usage.tokens_today, usage.tokens_held),
          remaining(q.cost_micro_usd_per_month, usage.cost_this_month_micro_usd,
                    usage.cost_held_micro_usd)};
}

} // namespace troupe::jobs
