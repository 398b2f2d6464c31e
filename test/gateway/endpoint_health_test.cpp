// Per endpoint:model health: the EWMAs, which failures count against an
// endpoint, the bounded latency windows and their quantiles, the score.

#include <boost/test/unit_test.hpp>

#include "core/gateway/endpoint_health.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

const health_config cfg{};

attempt_outcome ok_ms(uint64_t ms, uint64_t first_token_ms = 0) {
  return {model_failure::none, ms * 1000, first_token_ms * 1000, false};
}

attempt_outcome failed(model_failure f) {
  return {f, 1000, 0, false};
}

void run(endpoint_health& h, const attempt_outcome& o, int64_t now_us = 0) {
  auto st = begin_attempt(h, now_us);
  BOOST_REQUIRE(st.admitted);
  auto with_probe = o;
  with_probe.probe = st.probe;
  (void)observe(h, with_probe, now_us, cfg);
}

} // namespace

BOOST_AUTO_TEST_SUITE(endpoint_health_suite)

BOOST_AUTO_TEST_CASE(latency_ewma_starts_at_the_first_sample_then_weighs_by_alpha) {
  endpoint_health h;
  run(h, ok_ms(100));
  BOOST_TEST(h.latency_ms == 100.0, boost::test_tools::tolerance(1e-9));
  run(h, ok_ms(200));
  BOOST_TEST(h.latency_ms == 120.0, boost::test_tools::tolerance(1e-9)); // 0.2·200 + 0.8·100
  run(h, ok_ms(120));
  BOOST_TEST(h.latency_ms == 120.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(h.first_token_ms == 0.0); // nothing streamed
  health_config slow;
  slow.alpha = 0.5;
  endpoint_health g;
  (void)observe(g, ok_ms(100), 0, slow);
  (void)observe(g, ok_ms(300), 0, slow);
  BOOST_TEST(g.latency_ms == 200.0, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(error_rate_ewma_starts_healthy_and_counts_endpoint_failures) {
  endpoint_health h;
  run(h, failed(model_failure::server_error));
  BOOST_TEST(h.error_rate == 0.2, boost::test_tools::tolerance(1e-9));
  run(h, failed(model_failure::timeout));
  BOOST_TEST(h.error_rate == 0.36, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(h.consecutive_failures == 2u);
  run(h, ok_ms(10));
  BOOST_TEST(h.error_rate == 0.288, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(h.consecutive_failures == 0u);
  BOOST_TEST(h.requests == 3u);
  BOOST_TEST(h.failures == 2u);
  BOOST_TEST(h.successes == 1u);
}

BOOST_AUTO_TEST_CASE(only_failures_that_say_something_about_the_endpoint_count) {
  for (auto f : {model_failure::rate_limited, model_failure::overloaded,
                 model_failure::server_error, model_failure::timeout,
                 model_failure::connection, model_failure::malformed})
    BOOST_TEST((weigh(f) == failure_weight::counted), to_string(f));
  BOOST_TEST((weigh(model_failure::quota_exhausted) == failure_weight::quota));
  BOOST_TEST((weigh(model_failure::none) == failure_weight::success));
  endpoint_health h;
  run(h, failed(model_failure::server_error));
  auto before = h.error_rate;
  for (auto f : {model_failure::bad_request, model_failure::canceled, model_failure::exhausted}) {
    BOOST_TEST((weigh(f) == failure_weight::ignored), to_string(f));
    run(h, failed(f));
  }
  BOOST_TEST(h.error_rate == before);
  BOOST_TEST(h.consecutive_failures == 1u);
  BOOST_TEST(h.failures == 1u);
  BOOST_TEST(h.requests == 4u);
}

BOOST_AUTO_TEST_CASE(latencies_come_from_successes_only) {
  endpoint_health h;
  run(h, ok_ms(100, 20));
  attempt_outcome slow_timeout{model_failure::timeout, 60'000'000, 0, false};
  run(h, slow_timeout);
  BOOST_TEST(h.latency_ms == 100.0);
  BOOST_TEST(h.latencies.size == 1u);
  BOOST_TEST(h.first_tokens.size == 1u);
  BOOST_TEST(h.first_token_ms == 20.0);
  BOOST_TEST(*quantile_us(h.latencies, 0.9) == 100'000u);
}

BOOST_AUTO_TEST_CASE(quantiles_are_nearest_rank) {
  latency_window w;
  BOOST_TEST(!quantile_us(w, 0.5));
  // Pushed out of order: the quantile does not depend on arrival order.
  for (uint64_t i = 100; i >= 1; --i)
    push(w, i);
  BOOST_TEST(*quantile_us(w, 0.5) == 50u);
  BOOST_TEST(*quantile_us(w, 0.9) == 90u);
  BOOST_TEST(*quantile_us(w, 0.99) == 99u);
  BOOST_TEST(*quantile_us(w, 0.0) == 1u);
  BOOST_TEST(*quantile_us(w, 1.0) == 100u);
  BOOST_TEST(*quantile_us(w, 7.0) == 100u); // clamped
  latency_window one;
  push(one, 42);
  BOOST_TEST(*quantile_us(one, 0.5) == 42u);
  BOOST_TEST(*quantile_us(one, 0.99) == 42u);
}

BOOST_AUTO_TEST_CASE(the_window_keeps_the_last_128_samples) {
  latency_window w;
  for (uint64_t i = 1; i <= 300; ++i)
    push(w, i);
  BOOST_TEST(w.size == latency_window::capacity);
  BOOST_TEST(*quantile_us(w, 0.0) == 300u - 128u + 1u);
  BOOST_TEST(*quantile_us(w, 1.0) == 300u);
  BOOST_TEST(*quantile_us(w, 0.5) == 173u + 63u); // 64th of 173..300
}

BOOST_AUTO_TEST_CASE(score_follows_the_documented_formula) {
  endpoint_health h;
  BOOST_TEST(health_score(h, cfg) == 1.0); // unmeasured, never failed
  h.latency_ms = 2000;
  BOOST_TEST(health_score(h, cfg) == 0.5, boost::test_tools::tolerance(1e-12));
  h.error_rate = 0.5;
  BOOST_TEST(health_score(h, cfg) == 0.25, boost::test_tools::tolerance(1e-12));
  h.error_rate = 1;
  BOOST_TEST(health_score(h, cfg) == 0.0);
  h.error_rate = 0.1;
  h.latency_ms = 6000;
  BOOST_TEST(health_score(h, cfg) == 0.9 * 0.25, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(requests_in_flight_are_counted_and_forgotten_after_a_restart) {
  endpoint_health h;
  BOOST_TEST(begin_attempt(h, 0).admitted);
  BOOST_TEST(begin_attempt(h, 0).admitted);
  BOOST_TEST(h.in_flight == 2u);
  (void)observe(h, ok_ms(5), 0, cfg);
  BOOST_TEST(h.in_flight == 1u);
  forget_in_flight(h);
  BOOST_TEST(h.in_flight == 0u);
  (void)observe(h, ok_ms(5), 0, cfg); // a stray end never goes below zero
  BOOST_TEST(h.in_flight == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
