// Which run ends are retried (the infrastructure's failures, never the
// agent's), and the backoff: full jitter within its bounds, doubling to its
// cap, dead-lettered after max attempts.

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <boost/test/unit_test.hpp>

#include "core/jobs/job_retry.hpp"

using namespace troupe;
using namespace troupe::jobs;

namespace {

constexpr int64_t ms = 1000;
constexpr int64_t s = 1'000'000;
constexpr int64_t t0 = 1'700'000'000 * s;

} // namespace

BOOST_AUTO_TEST_SUITE(job_retry)

// The failures the gateway retries itself are the ones a later attempt of
// the whole run may get past.
BOOST_AUTO_TEST_CASE(unreachable_models_are_infrastructure_failures) {
  for (auto f : {"connection", "timeout", "overloaded", "server_error", "rate_limited",
                 "malformed"}) {
    BOOST_TEST(is_infrastructure_failure(run_status::limit_reached, "provider_failed", f), f);
    BOOST_TEST(is_infrastructure_failure(run_status::failed, "provider_failed", f), f);
  }
}

BOOST_AUTO_TEST_CASE(provider_failures_another_attempt_would_repeat_are_not) {
  for (auto f : {"bad_request", "quota_exhausted", "exhausted", "canceled", "", "no_such_kind"})
    BOOST_TEST(!is_infrastructure_failure(run_status::limit_reached, "provider_failed", f), f);
}

BOOST_AUTO_TEST_CASE(the_agents_own_ends_are_never_retried) {
  // Whatever the last model failure was, only "provider_failed" counts.
  for (auto reason : {"", "max_turns", "max_tokens", "max_cost", "deadline", "max_tool_calls",
                      "max_consecutive_errors", "max_parse_failures", "verification_failed",
                      "out_of_scope", "restart_intensity_exceeded", "journal_failed"}) {
    BOOST_TEST(!is_infrastructure_failure(run_status::limit_reached, reason, "connection"), reason);
    BOOST_TEST(!is_infrastructure_failure(run_status::failed, reason, "connection"), reason);
  }
  // Not ends of a failure: done, canceled, or still running elsewhere.
  for (auto st : {run_status::completed, run_status::canceled, run_status::running})
    BOOST_TEST(!is_infrastructure_failure(st, "provider_failed", "connection"));
}

BOOST_AUTO_TEST_CASE(the_backoff_ceiling_doubles_up_to_its_cap) {
  BOOST_TEST(backoff_ceiling_us(1, 500 * ms, 30 * s) == 500 * ms);
  BOOST_TEST(backoff_ceiling_us(2, 500 * ms, 30 * s) == 1 * s);
  BOOST_TEST(backoff_ceiling_us(3, 500 * ms, 30 * s) == 2 * s);
  BOOST_TEST(backoff_ceiling_us(7, 500 * ms, 30 * s) == 30 * s);  // 32 s capped
  BOOST_TEST(backoff_ceiling_us(0, 500 * ms, 30 * s) == 500 * ms); // 0 counts as 1
  BOOST_TEST(backoff_ceiling_us(4'000'000'000u, 500 * ms, 30 * s) == 30 * s);
  auto big = std::numeric_limits<int64_t>::max();
  BOOST_TEST(backoff_ceiling_us(200, big / 3, big) == big); // no overflow on the way
  BOOST_TEST(backoff_ceiling_us(3, 10 * s, 1 * s) == 1 * s); // base above the cap
  BOOST_TEST(backoff_ceiling_us(3, -5, 1 * s) == 0);
  BOOST_TEST(backoff_ceiling_us(3, 1 * s, -1) == 0);
}

BOOST_AUTO_TEST_CASE(full_jitter_stays_within_zero_and_the_ceiling) {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> unit(0, 1);
  for (uint32_t attempts = 1; attempts < 10; ++attempts) {
    auto ceiling = backoff_ceiling_us(attempts, 1 * s, 60 * s);
    int64_t lo = ceiling, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      auto d = next_attempt(attempts, 10, 1 * s, 60 * s, unit(rng), t0);
      BOOST_REQUIRE(d.what == retry_decision::kind::retry);
      BOOST_REQUIRE(d.delay_us >= 0);
      BOOST_REQUIRE(d.delay_us <= ceiling);
      BOOST_REQUIRE(d.not_before_us == t0 + d.delay_us);
      lo = std::min(lo, d.delay_us);
      hi = std::max(hi, d.delay_us);
    }
    // Spread over the whole range (full jitter, not equal or decorrelated).
    BOOST_TEST(lo < ceiling / 20, "attempt " << attempts);
    BOOST_TEST(hi > ceiling - ceiling / 20, "attempt " << attempts);
  }
  // The random number's edges, and values outside [0, 1].
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, 0.0, t0).delay_us == 0);
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, 0.5, t0).delay_us == 2 * s);
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, 1.0, t0).delay_us == 4 * s);
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, 7.0, t0).delay_us == 4 * s);
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, -1.0, t0).delay_us == 0);
  BOOST_TEST(next_attempt(3, 5, 1 * s, 60 * s, std::nan(""), t0).delay_us == 0);
  auto big = std::numeric_limits<int64_t>::max();
  auto huge = next_attempt(3, 5, big, big, 1.0, t0);
  BOOST_TEST(huge.delay_us == big);
  BOOST_TEST(huge.not_before_us == big); // saturates, does not wrap into the past
}

BOOST_AUTO_TEST_CASE(dead_lettered_after_max_attempts) {
  for (uint32_t a = 1; a < 4; ++a)
    BOOST_TEST((next_attempt(a, 4, 1 * s, 60 * s, 0.3, t0).what == retry_decision::kind::retry));
  auto dead = next_attempt(4, 4, 1 * s, 60 * s, 0.3, t0);
  BOOST_TEST((dead.what == retry_decision::kind::dead_letter));
  BOOST_TEST(dead.not_before_us == 0);
  BOOST_TEST((next_attempt(9, 4, 1 * s, 60 * s, 0.3, t0).what
              == retry_decision::kind::dead_letter));
  // max_attempts 0 counts as 1: the first failure dead-letters.
  BOOST_TEST((next_attempt(1, 0, 1 * s, 60 * s, 0.3, t0).what
              == retry_decision::kind::dead_letter));
  BOOST_TEST((next_attempt(0, 0, 1 * s, 60 * s, 0.3, t0).what == retry_decision::kind::retry));
}

BOOST_AUTO_TEST_SUITE_END()
