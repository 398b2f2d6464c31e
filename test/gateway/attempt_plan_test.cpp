// After a failed attempt: retry the same endpoint, fall back, or give up;
// backoff and jitter from the journaled draw; the server's retry-after.
// And the hedge delay from an endpoint's latency quantile.

#include <boost/test/unit_test.hpp>

#include "core/gateway/attempt_plan.hpp"
#include "core/gateway/endpoint_health.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

constexpr int64_t ms = 1000;

failed_attempt failure(model_failure f, bool can_fall_back = false, uint32_t attempts = 1,
                       uint32_t endpoint_attempts = 1) {
  failed_attempt a;
  a.failure = f;
  a.can_fall_back = can_fall_back;
  a.attempts = attempts;
  a.endpoint_attempts = endpoint_attempts;
  return a;
}

const retry_config cfg{};

} // namespace

BOOST_AUTO_TEST_SUITE(attempt_plan_suite)

BOOST_AUTO_TEST_CASE(rate_limited_with_retry_after_waits_what_the_server_asked) {
  auto f = failure(model_failure::rate_limited);
  f.retry_after_ms = 1500;
  auto p = next_attempt(f, 0.99, cfg);
  BOOST_TEST((p.action == attempt_action::retry_same));
  BOOST_TEST(p.delay_us == 1500 * ms); // above the backoff (at most 750 ms here)
  BOOST_TEST(p.reason == "rate_limited: retry after the server's delay");
  // A retry-after shorter than the backoff: the backoff.
  f.retry_after_ms = 10;
  auto q = next_attempt(f, 0.5, cfg);
  BOOST_TEST(q.delay_us == 500 * ms);
  BOOST_TEST(q.reason == "rate_limited: retry after backoff");
  // An absurd retry-after is capped.
  f.retry_after_ms = 86'400'000;
  BOOST_TEST(next_attempt(f, 0.5, cfg).delay_us == static_cast<int64_t>(cfg.max_retry_after_ms) * ms);
}

BOOST_AUTO_TEST_CASE(a_long_wait_falls_back_when_another_candidate_can_answer) {
  auto f = failure(model_failure::rate_limited, true);
  f.retry_after_ms = 20'000;
  auto p = next_attempt(f, 0.5, cfg);
  BOOST_TEST((p.action == attempt_action::fall_back));
  BOOST_TEST(p.delay_us == 0);
  BOOST_TEST(p.reason == "rate_limited: wait too long: falling back");
  f.retry_after_ms = 2'000; // short enough: the same endpoint after its delay
  BOOST_TEST((next_attempt(f, 0.5, cfg).action == attempt_action::retry_same));
}

BOOST_AUTO_TEST_CASE(backoff_grows_and_is_capped) {
  int64_t prev = 0;
  for (uint32_t k = 1; k <= 6; ++k) {
    auto d = backoff_us(k, 0.5, cfg);
    BOOST_TEST(d == cfg.base_delay_us * (int64_t{1} << (k - 1)));
    BOOST_TEST(d > prev);
    prev = d;
  }
  BOOST_TEST(backoff_us(7, 0.5, cfg) == cfg.max_delay_us);
  BOOST_TEST(backoff_us(4'000'000'000u, 0.99, cfg) == cfg.max_delay_us);
  // Through next_attempt: the k-th attempt on the endpoint waits the k-th backoff.
  retry_config many = cfg;
  many.max_attempts = 10;
  many.max_attempts_per_endpoint = 10;
  auto second = next_attempt(failure(model_failure::server_error, false, 2, 2), 0.5, many);
  auto third = next_attempt(failure(model_failure::server_error, false, 3, 3), 0.5, many);
  BOOST_TEST(second.delay_us == 1000 * ms);
  BOOST_TEST(third.delay_us == 2000 * ms);
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_half_to_one_and_a_half_of_the_backoff) {
  for (uint32_t k = 1; k <= 4; ++k) {
    auto nominal = cfg.base_delay_us * (int64_t{1} << (k - 1));
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; ++i) {
      auto d = backoff_us(k, i / 1000.0, cfg);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    BOOST_TEST(lo == nominal / 2);
    BOOST_TEST(hi < nominal * 3 / 2);
    BOOST_TEST(hi > nominal * 14 / 10); // the draw does spread it
  }
  BOOST_TEST(backoff_us(1, -3, cfg) == cfg.base_delay_us / 2); // clamped draws
  BOOST_TEST(backoff_us(1, 9, cfg) == cfg.base_delay_us * 3 / 2);
}

BOOST_AUTO_TEST_CASE(quota_falls_back_and_never_retries_the_same_endpoint) {
  auto p = next_attempt(failure(model_failure::quota_exhausted, true), 0.5, cfg);
  BOOST_TEST((p.action == attempt_action::fall_back));
  BOOST_TEST(p.reason == "quota_exhausted: falling back");
  auto alone = next_attempt(failure(model_failure::quota_exhausted, false), 0.5, cfg);
  BOOST_TEST((alone.action == attempt_action::give_up));
  BOOST_TEST(alone.reason == "quota_exhausted: no other candidate");
}

BOOST_AUTO_TEST_CASE(bad_request_and_cancel_give_up_even_with_a_fallback) {
  auto bad = next_attempt(failure(model_failure::bad_request, true), 0.5, cfg);
  BOOST_TEST((bad.action == attempt_action::give_up));
  BOOST_TEST(bad.reason == "bad_request: not retried");
  auto canceled = next_attempt(failure(model_failure::canceled, true), 0.5, cfg);
  BOOST_TEST((canceled.action == attempt_action::give_up));
  auto exhausted = next_attempt(failure(model_failure::exhausted, true), 0.5, cfg);
  BOOST_TEST((exhausted.action == attempt_action::give_up));
  BOOST_TEST(exhausted.reason == "exhausted: not retryable");
}

BOOST_AUTO_TEST_CASE(max_attempts_ends_the_request) {
  auto p = next_attempt(failure(model_failure::server_error, true, cfg.max_attempts, 1), 0.5, cfg);
  BOOST_TEST((p.action == attempt_action::give_up));
  BOOST_TEST(p.reason == "server_error: max attempts reached");
  auto before = next_attempt(failure(model_failure::server_error, true, cfg.max_attempts - 1, 1),
                             0.5, cfg);
  BOOST_TEST((before.action != attempt_action::give_up));
}

BOOST_AUTO_TEST_CASE(per_endpoint_retries_then_fall_back_then_give_up) {
  auto first = next_attempt(failure(model_failure::server_error, true, 1, 1), 0.5, cfg);
  BOOST_TEST((first.action == attempt_action::retry_same));
  auto used = next_attempt(failure(model_failure::server_error, true, 2, 2), 0.5, cfg);
  BOOST_TEST((used.action == attempt_action::fall_back));
  BOOST_TEST(used.reason == "server_error: endpoint retries used: falling back");
  auto last = next_attempt(failure(model_failure::server_error, false, 2, 2), 0.5, cfg);
  BOOST_TEST((last.action == attempt_action::give_up));
  // The failure opened the endpoint's breaker: no retry there.
  auto opened = failure(model_failure::server_error, true);
  opened.endpoint_admits = false;
  auto p = next_attempt(opened, 0.5, cfg);
  BOOST_TEST((p.action == attempt_action::fall_back));
  BOOST_TEST(p.reason == "server_error: breaker open: falling back");
}

BOOST_AUTO_TEST_CASE(a_timeout_falls_back_at_once_when_it_can) {
  auto p = next_attempt(failure(model_failure::timeout, true), 0.5, cfg);
  BOOST_TEST((p.action == attempt_action::fall_back));
  BOOST_TEST(p.delay_us == 0);
  auto alone = next_attempt(failure(model_failure::timeout, false), 0.5, cfg);
  BOOST_TEST((alone.action == attempt_action::retry_same));
}

BOOST_AUTO_TEST_CASE(equal_inputs_give_equal_plans) {
  for (int i = 0; i < 200; ++i) {
    auto f = failure(static_cast<model_failure>(i % 11), i % 2 == 0, 1 + i % 4, 1 + i % 3);
    f.retry_after_ms = static_cast<uint64_t>(i * 37 % 9000);
    auto a = next_attempt(f, (i % 10) / 10.0, cfg);
    auto b = next_attempt(f, (i % 10) / 10.0, cfg);
    BOOST_REQUIRE((a.action == b.action));
    BOOST_REQUIRE(a.delay_us == b.delay_us);
    BOOST_REQUIRE(a.reason == b.reason);
  }
}

BOOST_AUTO_TEST_CASE(action_names_round_trip) {
  for (auto a : {attempt_action::retry_same, attempt_action::fall_back, attempt_action::give_up}) {
    attempt_action back = attempt_action::give_up;
    BOOST_TEST(from_string(to_string(a), back));
    BOOST_TEST((back == a));
  }
  attempt_action x;
  BOOST_TEST(!from_string("retry", x));
}

// -- hedging ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_hedge_delay_comes_from_the_quantile_after_min_samples) {
  hedge_config hc;
  hc.enabled = true;
  hc.quantile = 0.9;
  hc.min_samples = 20;
  hc.min_delay_us = 1 * ms;
  health_config health;
  endpoint_health h;
  for (uint64_t i = 1; i <= 19; ++i)
    (void)observe(h, {model_failure::none, i * 100 * 1000, 0, false}, 0, health);
  BOOST_TEST(!hedge_delay_us(h, hc)); // 19 samples: no honest p90 yet
  (void)observe(h, {model_failure::none, 20 * 100 * 1000, 0, false}, 0, health);
  auto d = hedge_delay_us(h, hc);
  BOOST_REQUIRE(d);
  BOOST_TEST(*d == 1800 * ms); // the 18th of 100..2000 ms
  // Failures do not feed it.
  (void)observe(h, {model_failure::timeout, 600'000'000, 0, false}, 0, health);
  BOOST_TEST(*hedge_delay_us(h, hc) == 1800 * ms);
  hc.min_delay_us = 5000 * ms;
  BOOST_TEST(*hedge_delay_us(h, hc) == 5000 * ms); // the floor
  hc.enabled = false;
  BOOST_TEST(!hedge_delay_us(h, hc));
}

BOOST_AUTO_TEST_CASE(a_streaming_endpoint_is_hedged_on_time_to_first_token) {
  hedge_config hc;
  hc.enabled = true;
  hc.min_samples = 10;
  hc.min_delay_us = 0;
  health_config health;
  endpoint_health h;
  for (int i = 0; i < 10; ++i)
    (void)observe(h, {model_failure::none, 4'000'000, 300'000, false}, 0, health);
  BOOST_TEST(*hedge_delay_us(h, hc) == 300 * ms);
  hc.min_samples = 500; // more than the window holds: capped at 128
  BOOST_TEST(!hedge_delay_us(h, hc));
  for (int i = 0; i < 200; ++i)
    (void)observe(h, {model_failure::none, 4'000'000, 300'000, false}, 0, health);
  BOOST_TEST(*hedge_delay_us(h, hc) == 300 * ms);
}

BOOST_AUTO_TEST_SUITE_END()
