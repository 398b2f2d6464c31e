// A route choice through the journal: recorded into a route_attempt,
// encoded and decoded by the real codec, chosen again from what came back.

#include <boost/test/unit_test.hpp>

#include <random>

#include "core/gateway/route_record.hpp"
#include "schemas/codec.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

route_attempt through_the_journal(const route_attempt& a) {
  event ev;
  ev.run_id = "r1";
  ev.seq = 7;
  ev.body = a;
  auto back = decode(encode(ev));
  BOOST_REQUIRE(back);
  BOOST_REQUIRE(std::holds_alternative<route_attempt>(back->body));
  return std::get<route_attempt>(back->body);
}

route_candidate cand(std::string endpoint, double latency_ms) {
  route_candidate c;
  c.endpoint = std::move(endpoint);
  c.model = "m";
  c.latency_ms = latency_ms;
  return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(route_record_suite)

BOOST_AUTO_TEST_CASE(a_candidate_round_trips_through_its_record) {
  route_candidate c = cand("cloud", 0.1 + 0.2);
  c.breaker = breaker_state::half_open;
  c.probing = true;
  c.open_until_us = -5;
  c.score = 1.0 / 3;
  c.error_rate = 1e-300;
  c.input_micro_usd_per_mtok = UINT64_MAX;
  c.output_micro_usd_per_mtok = 3;
  c.quality = -0.0;
  c.full = true;
  auto r = to_record(c);
  BOOST_TEST(r.breaker == "half_open");
  auto back = from_record(r);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->key() == c.key());
  BOOST_TEST((back->breaker == c.breaker));
  BOOST_TEST(back->probing);
  BOOST_TEST(back->open_until_us == -5);
  BOOST_TEST(back->score == c.score);
  BOOST_TEST(back->latency_ms == c.latency_ms);
  BOOST_TEST(back->error_rate == c.error_rate);
  BOOST_TEST(back->input_micro_usd_per_mtok == UINT64_MAX);
  BOOST_TEST(back->output_micro_usd_per_mtok == 3u);
  BOOST_TEST(back->full);
  r.breaker = "ajar";
  BOOST_TEST(!from_record(r));
}

BOOST_AUTO_TEST_CASE(journaled_choices_replay_after_encode_and_decode) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> lat(0, 3000); // doubles with every bit used
  std::uniform_int_distribution<int> pick(0, 9);
  for (int round = 0; round < 300; ++round) {
    std::vector<route_candidate> cs;
    std::set<std::string> excluded;
    for (int i = 0; i < 1 + pick(rng) % 5; ++i) {
      auto c = cand("e" + std::to_string(i), lat(rng));
      c.breaker = static_cast<breaker_state>(pick(rng) % 3);
      c.probing = pick(rng) < 3;
      c.open_until_us = pick(rng) * 1'000'000;
      c.quality = lat(rng) / 3000;
      c.input_micro_usd_per_mtok = static_cast<uint64_t>(pick(rng)) * 250'000;
      c.full = pick(rng) == 0;
      if (pick(rng) < 2)
        excluded.insert(c.key());
      cs.push_back(c);
    }
    auto strategy = static_cast<route_strategy>(pick(rng) % 5);
    auto choice = choose_route(cs, strategy, excluded);
    route_attempt a;
    a.turn = 1;
    a.attempt = 1;
    a.route = "smart";
    record_choice(a, cs, strategy, excluded, choice);
    BOOST_REQUIRE(a.chosen == (choice.index ? static_cast<int32_t>(*choice.index) : -1));
    auto back = through_the_journal(a);
    BOOST_REQUIRE(replays(back));
    auto again = choose_again(back);
    BOOST_REQUIRE(again);
    BOOST_REQUIRE(again->retry_at_us == choice.retry_at_us);
  }
}

BOOST_AUTO_TEST_CASE(a_journal_that_disagrees_does_not_replay) {
  std::vector<route_candidate> cs{cand("a", 300), cand("b", 100)};
  auto choice = choose_route(cs, route_strategy::latency_first, {});
  BOOST_REQUIRE(choice.index == size_t{1});
  route_attempt a;
  record_choice(a, cs, route_strategy::latency_first, {}, choice);
  BOOST_TEST(replays(a));
  auto edited = a;
  edited.candidates[0].latency_ms = 99.999; // now `a` is faster
  BOOST_TEST(!replays(edited));
  auto other_reason = a;
  other_reason.reason = "cheapest";
  BOOST_TEST(!replays(other_reason));
  auto unknown = a;
  unknown.strategy = "random";
  BOOST_TEST(!choose_again(unknown));
  BOOST_TEST(!replays(unknown));
}

BOOST_AUTO_TEST_SUITE_END()
