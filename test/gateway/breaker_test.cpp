// The circuit breaker through endpoint_health, as the gateway drives it:
// opening on consecutive failures, on the error rate (only after
// min_requests), on a spent quota; the cool-down, the single probe, closing,
// re-opening with a longer cool-down.

#include <boost/test/unit_test.hpp>

#include "core/gateway/endpoint_health.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

constexpr int64_t s = 1'000'000;

struct fixture {
  health_config cfg;
  endpoint_health h;

  /// Sends one request at `now` and ends it with `f`; the breaker transition.
  std::optional<breaker_transition> attempt(model_failure f, int64_t now) {
    auto st = begin_attempt(h, now);
    BOOST_REQUIRE(st.admitted);
    return observe(h, {f, 1000, 0, st.probe}, now, cfg);
  }

  void open_by_failures(int64_t now) {
    for (uint32_t i = 0; i < cfg.breaker.failure_threshold; ++i)
      (void)attempt(model_failure::server_error, now);
    BOOST_REQUIRE(h.breaker.state == breaker_state::open);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(breaker_suite)

BOOST_FIXTURE_TEST_CASE(full_cycle_open_half_open_probe_close, fixture) {
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(!attempt(model_failure::server_error, 10 * s));
  BOOST_TEST(h.breaker.state == breaker_state::closed);
  auto t = attempt(model_failure::connection, 10 * s);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->reason == "consecutive failures");
  BOOST_TEST((t->from == breaker_state::closed && t->to == breaker_state::open));
  BOOST_TEST(t->open_until_us == 40 * s);

  // Open: nothing goes through until the cool-down is over.
  BOOST_TEST(!admits(h, 40 * s - 1));
  BOOST_TEST(!begin_attempt(h, 40 * s - 1).admitted);
  BOOST_TEST(!refresh(h, 40 * s - 1));
  BOOST_TEST(h.in_flight == 0u);

  auto half = refresh(h, 40 * s);
  BOOST_REQUIRE(half);
  BOOST_TEST(half->reason == "cool-down elapsed");
  BOOST_TEST((half->to == breaker_state::half_open));

  // Exactly one probe at a time.
  auto probe = begin_attempt(h, 41 * s);
  BOOST_TEST(probe.admitted);
  BOOST_TEST(probe.probe);
  BOOST_TEST(!admits(h, 41 * s));
  BOOST_TEST(!begin_attempt(h, 41 * s).admitted);
  BOOST_TEST(!begin_attempt(h, 99 * s).admitted);

  auto closed = observe(h, {model_failure::none, 1000, 0, true}, 42 * s, cfg);
  BOOST_REQUIRE(closed);
  BOOST_TEST(closed->reason == "probe succeeded");
  BOOST_TEST((closed->from == breaker_state::half_open && closed->to == breaker_state::closed));
  BOOST_TEST(h.breaker.opens == 0u);
  BOOST_TEST(admits(h, 42 * s));
  BOOST_TEST(!begin_attempt(h, 42 * s).probe);
}

BOOST_FIXTURE_TEST_CASE(a_failed_probe_reopens_with_a_longer_cool_down_up_to_the_cap, fixture) {
  cfg.breaker.max_cool_down_us = 100 * s;
  open_by_failures(0);
  BOOST_TEST(h.breaker.open_until_us == 30 * s);
  int64_t now = 30 * s;
  for (int64_t expected : {60 * s, 100 * s, 100 * s}) {
    BOOST_REQUIRE(refresh(h, now));
    auto t = attempt(model_failure::timeout, now);
    BOOST_REQUIRE(t);
    BOOST_TEST(t->reason == "probe failed");
    BOOST_TEST((t->from == breaker_state::half_open && t->to == breaker_state::open));
    BOOST_TEST(t->open_until_us - now == expected);
    now = t->open_until_us;
  }
  // A success closes it and the next open starts again from the short cool-down.
  BOOST_REQUIRE(refresh(h, now));
  BOOST_REQUIRE(attempt(model_failure::none, now));
  open_by_failures(now);
  BOOST_TEST(h.breaker.open_until_us - now == 30 * s);
}

BOOST_FIXTURE_TEST_CASE(the_error_rate_opens_it_only_after_min_requests, fixture) {
  cfg.breaker.failure_threshold = 1000; // only the error rate can open it
  cfg.breaker.min_requests = 10;
  // Four failures put the EWMA at 0.59, over 0.5, with 4 outcomes seen.
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(!attempt(model_failure::overloaded, 0));
  BOOST_TEST(h.error_rate > 0.5);
  BOOST_TEST(h.breaker.state == breaker_state::closed);
  for (int i = 4; i < 9; ++i)
    BOOST_TEST(!attempt(model_failure::overloaded, 0));
  auto t = attempt(model_failure::overloaded, 0); // the 10th
  BOOST_REQUIRE(t);
  BOOST_TEST(t->reason == "error rate");
}

BOOST_FIXTURE_TEST_CASE(the_error_rate_stays_closed_below_the_threshold, fixture) {
  cfg.breaker.failure_threshold = 1000;
  cfg.breaker.min_requests = 4;
  // One failure in three keeps the EWMA well under 0.5.
  for (int i = 0; i < 60; ++i)
    BOOST_TEST(!attempt(i % 3 == 0 ? model_failure::server_error : model_failure::none, 0));
  BOOST_TEST(h.error_rate < 0.5);
  BOOST_TEST(h.breaker.state == breaker_state::closed);
}

BOOST_FIXTURE_TEST_CASE(closing_restarts_the_min_requests_count, fixture) {
  cfg.breaker.failure_threshold = 1000;
  cfg.breaker.min_requests = 5;
  for (int i = 0; i < 5; ++i)
    (void)attempt(model_failure::server_error, 0);
  BOOST_REQUIRE(h.breaker.state == breaker_state::open);
  BOOST_REQUIRE(refresh(h, 30 * s));
  BOOST_REQUIRE(attempt(model_failure::none, 30 * s)); // closes; the EWMA is still high
  BOOST_TEST(h.error_rate > 0.5);
  // One more failure does not reopen it at once: five fresh outcomes are needed.
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(!attempt(model_failure::server_error, 31 * s));
  BOOST_TEST(attempt(model_failure::server_error, 31 * s).has_value());
}

BOOST_FIXTURE_TEST_CASE(quota_exhausted_opens_at_once_for_the_long_cool_down, fixture) {
  auto t = attempt(model_failure::quota_exhausted, 5 * s);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->reason == "quota exhausted");
  BOOST_TEST(t->open_until_us == 5 * s + cfg.breaker.quota_cool_down_us);
  BOOST_TEST(!admits(h, 5 * s + 30 * s));
  // A late quota failure of a request sent before keeps it open, reports nothing.
  h.in_flight = 1;
  BOOST_TEST(!observe(h, {model_failure::quota_exhausted, 1, 0, false}, 100 * s, cfg));
  BOOST_TEST(h.breaker.open_until_us == 100 * s + cfg.breaker.quota_cool_down_us);
  // From half-open too, probe or not.
  BOOST_REQUIRE(refresh(h, h.breaker.open_until_us));
  auto again = attempt(model_failure::quota_exhausted, h.breaker.open_until_us);
  BOOST_REQUIRE(again);
  BOOST_TEST((again->from == breaker_state::half_open));
  BOOST_TEST(again->reason == "quota exhausted");
}

BOOST_FIXTURE_TEST_CASE(only_the_probe_moves_a_half_open_breaker, fixture) {
  // Two requests go out, the endpoint then fails enough to open.
  BOOST_REQUIRE(begin_attempt(h, 0).admitted);
  BOOST_REQUIRE(begin_attempt(h, 0).admitted);
  open_by_failures(0);
  BOOST_REQUIRE(refresh(h, 30 * s));
  // The old requests end now: neither success nor failure is the probe's.
  BOOST_TEST(!observe(h, {model_failure::none, 1, 0, false}, 31 * s, cfg));
  BOOST_TEST(!observe(h, {model_failure::server_error, 1, 0, false}, 31 * s, cfg));
  BOOST_TEST(h.breaker.state == breaker_state::half_open);
  // A neutral probe outcome frees the slot and stays half-open.
  auto p = begin_attempt(h, 32 * s);
  BOOST_REQUIRE(p.probe);
  BOOST_TEST(!observe(h, {model_failure::canceled, 1, 0, true}, 33 * s, cfg));
  BOOST_TEST(h.breaker.state == breaker_state::half_open);
  BOOST_TEST(begin_attempt(h, 34 * s).probe);
}

BOOST_AUTO_TEST_CASE(cool_down_doubling_saturates) {
  breaker_config c;
  BOOST_TEST(cool_down_of(1, c) == c.cool_down_us);
  BOOST_TEST(cool_down_of(2, c) == 2 * c.cool_down_us);
  BOOST_TEST(cool_down_of(5, c) == 16 * c.cool_down_us);
  BOOST_TEST(cool_down_of(6, c) == c.max_cool_down_us);
  BOOST_TEST(cool_down_of(4'000'000'000u, c) == c.max_cool_down_us);
  c.max_cool_down_us = INT64_MAX;
  BOOST_TEST(cool_down_of(4'000'000'000u, c) == INT64_MAX);
}

BOOST_AUTO_TEST_CASE(state_names_round_trip) {
  for (auto st : {breaker_state::closed, breaker_state::open, breaker_state::half_open}) {
    breaker_state back = breaker_state::open;
    BOOST_TEST(from_string(to_string(st), back));
    BOOST_TEST((back == st));
  }
  breaker_state x;
  BOOST_TEST(!from_string("ajar", x));
  BOOST_TEST(to_string(breaker_state::half_open) == "half_open");
}

BOOST_AUTO_TEST_SUITE_END()
