// choose_route: each strategy's order and its ties, what is skipped
// (excluded, open, probing), queues that are full, everything open, and
// that equal inputs give equal choices (replay relies on it).

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "core/gateway/endpoint_health.hpp"
#include "core/gateway/route_choice.hpp"
#include "core/model_endpoint.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

route_candidate cand(std::string endpoint, double latency_ms = 0, uint64_t in_price = 0,
                     uint64_t out_price = 0, double quality = 0) {
  route_candidate c;
  c.endpoint = std::move(endpoint);
  c.model = "m";
  c.latency_ms = latency_ms;
  c.input_micro_usd_per_mtok = in_price;
  c.output_micro_usd_per_mtok = out_price;
  c.quality = quality;
  return c;
}

route_candidate with(route_candidate c, breaker_state b, bool probing = false,
                     int64_t open_until = 0) {
  c.breaker = b;
  c.probing = probing;
  c.open_until_us = open_until;
  return c;
}

const std::set<std::string> none;

size_t chosen(const route_choice& r) {
  BOOST_REQUIRE_MESSAGE(r.index, "nothing chosen: " + r.reason);
  return *r.index;
}

} // namespace

BOOST_AUTO_TEST_SUITE(route_choice_suite)

BOOST_AUTO_TEST_CASE(fallback_takes_the_first_healthy_in_declared_order) {
  std::vector<route_candidate> cs{with(cand("a", 5), breaker_state::open, false, 99),
                                  cand("b", 900), cand("c", 1)};
  auto r = choose_route(cs, route_strategy::fallback, none);
  BOOST_TEST(chosen(r) == 1u);
  BOOST_TEST(r.reason == "first healthy in order");
  auto t = choose_route(cs, route_strategy::tiers, none);
  BOOST_TEST(chosen(t) == 1u);
  BOOST_TEST(t.reason == "first healthy in tier order");
}

BOOST_AUTO_TEST_CASE(latency_first_takes_the_lowest_ewma_ties_in_declared_order) {
  std::vector<route_candidate> cs{cand("a", 300), cand("b", 120), cand("c", 120), cand("d", 500)};
  auto r = choose_route(cs, route_strategy::latency_first, none);
  BOOST_TEST(chosen(r) == 1u);
  BOOST_TEST(r.reason == "lowest latency ewma");
  // Not measured yet (0) comes first, so a new endpoint gets measured.
  cs.push_back(cand("new", 0));
  BOOST_TEST(chosen(choose_route(cs, route_strategy::latency_first, none)) == 4u);
  // NaN is infinitely slow, not a poison for the ordering.
  std::vector<route_candidate> nan{cand("x", std::nan("")), cand("y", 1e9)};
  BOOST_TEST(chosen(choose_route(nan, route_strategy::latency_first, none)) == 1u);
}

BOOST_AUTO_TEST_CASE(cost_first_takes_the_lowest_blended_price) {
  // Blended = 3·input + output: a 1/10 price blends to 13, a 3/1 price to 10.
  std::vector<route_candidate> cs{cand("a", 0, 1, 10), cand("b", 0, 3, 1), cand("c", 0, 2, 4),
                                  cand("d", 0, 3, 1)};
  auto r = choose_route(cs, route_strategy::cost_first, none);
  BOOST_TEST(chosen(r) == 1u); // b and c and d tie at 10: declared order
  BOOST_TEST(r.reason == "cheapest");
  // The blend weighs input three times: 3/1 sums lower than 1/4 but blends higher.
  std::vector<route_candidate> blend{cand("in-heavy", 0, 3, 1), cand("out-heavy", 0, 1, 4)};
  BOOST_TEST(chosen(choose_route(blend, route_strategy::cost_first, none)) == 1u);
  cs.push_back(cand("free", 0, 0, 0));
  BOOST_TEST(chosen(choose_route(cs, route_strategy::cost_first, none)) == 4u);
  // Absurd prices saturate instead of wrapping to cheap.
  std::vector<route_candidate> huge{cand("x", 0, UINT64_MAX / 2, UINT64_MAX), cand("y", 0, 7, 7)};
  BOOST_TEST(chosen(choose_route(huge, route_strategy::cost_first, none)) == 1u);
}

BOOST_AUTO_TEST_CASE(quality_first_takes_the_highest_quality_ties_in_declared_order) {
  std::vector<route_candidate> cs{cand("a", 0, 0, 0, 0.7), cand("b", 0, 0, 0, 0.9),
                                  cand("c", 0, 0, 0, 0.9), cand("d", 0, 0, 0, std::nan(""))};
  auto r = choose_route(cs, route_strategy::quality_first, none);
  BOOST_TEST(chosen(r) == 1u);
  BOOST_TEST(r.reason == "highest quality");
}

BOOST_AUTO_TEST_CASE(excluded_pairs_are_skipped_and_all_excluded_is_said) {
  std::vector<route_candidate> cs{cand("a"), cand("b"), cand("c")};
  auto r = choose_route(cs, route_strategy::fallback, {"a:m", "c:m"});
  BOOST_TEST(chosen(r) == 1u);
  // Exclusion is by endpoint:model: another model of `a` is still a candidate.
  auto other = cand("a");
  other.model = "m2";
  cs.push_back(other);
  BOOST_TEST(chosen(choose_route(cs, route_strategy::fallback, {"a:m", "b:m", "c:m"})) == 3u);
  auto all = choose_route(cs, route_strategy::fallback, {"a:m", "b:m", "c:m", "a:m2"});
  BOOST_TEST(!all.index);
  BOOST_TEST(all.reason == "all candidates tried");
  BOOST_TEST(!all.retry_at_us);
  auto empty = choose_route({}, route_strategy::fallback, none);
  BOOST_TEST(!empty.index);
  BOOST_TEST(empty.reason == "no candidates");
}

BOOST_AUTO_TEST_CASE(a_free_half_open_probe_goes_first_a_busy_one_is_skipped) {
  std::vector<route_candidate> cs{cand("fast", 10, 5, 5), cand("cheap", 900, 0, 0),
                                  with(cand("recovering", 5000, 50, 50), breaker_state::half_open)};
  for (auto s : {route_strategy::fallback, route_strategy::latency_first,
                 route_strategy::cost_first, route_strategy::quality_first}) {
    auto r = choose_route(cs, s, none);
    BOOST_TEST(chosen(r) == 2u, to_string(s));
    BOOST_TEST(r.reason == "half-open probe");
  }
  cs[2].probing = true;
  BOOST_TEST(chosen(choose_route(cs, route_strategy::latency_first, none)) == 0u);
  BOOST_TEST(chosen(choose_route(cs, route_strategy::cost_first, none)) == 1u);
}

BOOST_AUTO_TEST_CASE(a_candidate_with_room_goes_before_a_full_one) {
  std::vector<route_candidate> cs{cand("a", 10), cand("b", 50), cand("c", 20)};
  cs[0].full = true;
  auto r = choose_route(cs, route_strategy::latency_first, none);
  BOOST_TEST(chosen(r) == 2u);
  BOOST_TEST(r.reason == "lowest latency ewma");
  cs[1].full = cs[2].full = true;
  auto all_full = choose_route(cs, route_strategy::latency_first, none);
  BOOST_TEST(chosen(all_full) == 0u); // still chosen: it waits in its queue
  BOOST_TEST(all_full.reason == "lowest latency ewma (all queues full)");
  // A full half-open candidate ranks after one with room.
  std::vector<route_candidate> mixed{cand("a"), with(cand("b"), breaker_state::half_open)};
  mixed[1].full = true;
  BOOST_TEST(chosen(choose_route(mixed, route_strategy::fallback, none)) == 0u);
}

BOOST_AUTO_TEST_CASE(all_open_chooses_nothing_and_says_when_the_first_cool_down_ends) {
  std::vector<route_candidate> cs{with(cand("a"), breaker_state::open, false, 900),
                                  with(cand("b"), breaker_state::open, false, 300),
                                  with(cand("c"), breaker_state::half_open, true),
                                  with(cand("d"), breaker_state::open, false, 100)};
  auto r = choose_route(cs, route_strategy::fallback, {"d:m"});
  BOOST_TEST(!r.index);
  BOOST_TEST(r.reason == "all breakers open");
  BOOST_REQUIRE(r.retry_at_us);
  BOOST_TEST(*r.retry_at_us == 300); // d's is earlier but d was tried already
  // Only a busy probe left: no time to give.
  auto busy = choose_route({cs[2]}, route_strategy::fallback, none);
  BOOST_TEST(!busy.index);
  BOOST_TEST(!busy.retry_at_us);
}

BOOST_AUTO_TEST_CASE(candidate_of_reads_the_health_and_the_endpoint) {
  endpoint_config ep;
  ep.name = "cloud";
  ep.input_usd_per_mtok = 2.5;
  ep.output_usd_per_mtok = 10;
  ep.quality = 0.8;
  ep.max_concurrency = 2;
  health_config cfg;
  endpoint_health h;
  (void)observe(h, {model_failure::none, 2'000'000, 0, false}, 0, cfg);
  (void)begin_attempt(h, 0);
  auto c = candidate_of(ep, "gpt", h, cfg);
  BOOST_TEST(c.key() == "cloud:gpt");
  BOOST_TEST(c.input_micro_usd_per_mtok == 2'500'000u);
  BOOST_TEST(c.output_micro_usd_per_mtok == 10'000'000u);
  BOOST_TEST(c.latency_ms == 2000.0);
  BOOST_TEST(c.score == 0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(c.quality == 0.8);
  BOOST_TEST(!c.full);
  (void)begin_attempt(h, 0);
  BOOST_TEST(candidate_of(ep, "gpt", h, cfg).full);
  for (int i = 0; i < 5; ++i)
    (void)observe(h, {model_failure::server_error, 1, 0, false}, 7, cfg);
  auto open = candidate_of(ep, "gpt", h, cfg);
  BOOST_TEST((open.breaker == breaker_state::open));
  BOOST_TEST(open.open_until_us == 7 + cfg.breaker.cool_down_us);
  BOOST_TEST(micro_usd_per_mtok(-1) == 0u);
  BOOST_TEST(micro_usd_per_mtok(std::nan("")) == 0u);
  BOOST_TEST(micro_usd_per_mtok(0.15) == 150'000u);
}

BOOST_AUTO_TEST_CASE(strategy_names_round_trip) {
  for (auto s : {route_strategy::fallback, route_strategy::latency_first,
                 route_strategy::cost_first, route_strategy::quality_first,
                 route_strategy::tiers}) {
    route_strategy back = route_strategy::tiers;
    BOOST_TEST(from_string(to_string(s), back));
    BOOST_TEST((back == s));
  }
  route_strategy x;
  BOOST_TEST(!from_string("random", x));
  BOOST_TEST(!from_string("", x));
}

// Replay calls choose_route again on the journaled candidates: the choice
// must be a function of them alone. Random candidate sets, chosen twice on
// independent copies, and a simulated gateway whose journal is replayed.
BOOST_AUTO_TEST_CASE(equal_inputs_give_equal_choices) {
  std::mt19937_64 rng(20261212);
  std::uniform_int_distribution<int> small(0, 4);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<route_candidate> cs;
    auto n = static_cast<size_t>(small(rng)) + 1;
    std::set<std::string> excluded;
    for (size_t i = 0; i < n; ++i) {
      auto c = cand("e" + std::to_string(i), small(rng) * 100.0, small(rng), small(rng),
                    small(rng) / 4.0);
      c.breaker = static_cast<breaker_state>(small(rng) % 3);
      c.probing = unit(rng) < 0.3;
      c.open_until_us = small(rng) * 1000;
      c.full = unit(rng) < 0.2;
      if (unit(rng) < 0.2)
        excluded.insert(c.key());
      cs.push_back(c);
    }
    auto strategy = static_cast<route_strategy>(small(rng));
    auto copy = cs;
    auto a = choose_route(cs, strategy, excluded);
    auto b = choose_route(copy, strategy, std::set<std::string>(excluded));
    BOOST_REQUIRE(a.index == b.index);
    BOOST_REQUIRE(a.reason == b.reason);
    BOOST_REQUIRE(a.retry_at_us == b.retry_at_us);
    if (a.index) {
      const auto& c = cs[*a.index];
      BOOST_REQUIRE(excluded.count(c.key()) == 0);
      BOOST_REQUIRE(c.breaker != breaker_state::open);
      BOOST_REQUIRE(!(c.breaker == breaker_state::half_open && c.probing));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_journaled_gateway_replays_its_choices) {
  // The gateway: two endpoints, health folded from outcomes, each choice
  // journaled with its candidates. Replay: choose again from the journal.
  endpoint_config a, b;
  a.name = "a";
  b.name = "b";
  a.input_usd_per_mtok = 1;
  b.input_usd_per_mtok = 2;
  health_config cfg;
  cfg.breaker.max_cool_down_us = 60'000'000; // so `a` is probed again before the end
  endpoint_health ha, hb;
  struct entry {
    std::vector<route_candidate> candidates;
    std::set<std::string> excluded;
    route_choice choice;
  };
  std::vector<entry> journal;
  std::mt19937_64 rng(7);
  int64_t now = 0;
  for (int req = 0; req < 300; ++req, now += 2'000'000) {
    std::set<std::string> tried;
    for (int attempt = 0; attempt < 2; ++attempt) {
      (void)refresh(ha, now);
      (void)refresh(hb, now);
      std::vector<route_candidate> cs{candidate_of(a, "m", ha, cfg), candidate_of(b, "m", hb, cfg)};
      auto choice = choose_route(cs, route_strategy::cost_first, tried);
      journal.push_back({cs, tried, choice});
      if (!choice.index)
        break;
      auto& h = *choice.index == 0 ? ha : hb;
      auto st = begin_attempt(h, now);
      BOOST_REQUIRE(st.admitted);
      // `a` is cheap and flaky for a while.
      bool fail = *choice.index == 0 && req > 50 && req < 150 && rng() % 4 != 0;
      (void)observe(h, {fail ? model_failure::server_error : model_failure::none, 1000, 0,
                        st.probe},
                    now, cfg);
      if (!fail)
        break;
      tried.insert(cs[*choice.index].key());
    }
  }
  size_t to_b = 0;
  for (const auto& e : journal) {
    auto again = choose_route(e.candidates, route_strategy::cost_first, e.excluded);
    BOOST_REQUIRE(again.index == e.choice.index);
    BOOST_REQUIRE(again.reason == e.choice.reason);
    to_b += again.index == size_t{1} ? 1 : 0;
  }
  BOOST_TEST(to_b > 0u); // the breaker did send work to the fallback
  BOOST_TEST((ha.breaker.state == breaker_state::closed)); // and `a` came back
}

BOOST_AUTO_TEST_SUITE_END()
