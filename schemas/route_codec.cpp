// RouteAttempt <-> route_attempt (see schemas/detail/route_codec.hpp).

#include "schemas/detail/route_codec.hpp"

#include "schemas/detail/capnp_helpers.hpp"

namespace troupe::detail {

using namespace troupe::schema;

void put(RouteAttempt::Builder b, const route_attempt& x) {
  b.setTurn(x.turn);
  b.setAttempt(x.attempt);
  b.setRoute(text(x.route));
  b.setStrategy(text(x.strategy));
  b.setTier(text(x.tier));
  b.setTierReason(text(x.tier_reason));
  auto cs = b.initCandidates(x.candidates.size());
  for (unsigned i = 0; i < x.candidates.size(); ++i) {
    auto& c = x.candidates[i];
    auto o = cs[i];
    o.setEndpoint(text(c.endpoint));
    o.setModel(text(c.model));
    o.setBreaker(text(c.breaker));
    o.setProbing(c.probing);
    o.setOpenUntilUs(c.open_until_us);
    o.setScore(c.score);
    o.setLatencyMs(c.latency_ms);
    o.setErrorRate(c.error_rate);
    o.setInputPrice(c.input_micro_usd_per_mtok);
    o.setOutputPrice(c.output_micro_usd_per_mtok);
    o.setQuality(c.quality);
    o.setFull(c.full);
  }
  auto ex = b.initExcluded(x.excluded.size());
  for (unsigned i = 0; i < x.excluded.size(); ++i)
    ex.set(i, text(x.excluded[i]));
  b.setChosen(x.chosen);
  b.setReason(text(x.reason));
  b.setHedge(x.hedge);
  b.setOutcome(text(x.outcome));
  b.setLatencyUs(x.latency_us);
  b.setBackoffUs(x.backoff_us);
  b.setJitter(x.jitter);
}

route_attempt get(RouteAttempt::Reader r) {
  route_attempt x;
  x.turn = r.getTurn();
  x.attempt = r.getAttempt();
  x.route = str(r.getRoute());
  x.strategy = str(r.getStrategy());
  x.tier = str(r.getTier());
  x.tier_reason = str(r.getTierReason());
  for (auto c : backed(r.getCandidates(), "candidates"))
    x.candidates.push_back({str(c.getEndpoint()), str(c.getModel()), str(c.getBreaker()),
                            c.getProbing(), c.getOpenUntilUs(), c.getScore(), c.getLatencyMs(),
                            c.getErrorRate(), c.getInputPrice(), c.getOutputPrice(),
                            c.getQuality(), c.getFull()});
  for (auto e : r.getExcluded())
    x.excluded.push_back(str(e));
  x.chosen = r.getChosen();
  x.reason = str(r.getReason());
  x.hedge = r.getHedge();
  x.outcome = str(r.getOutcome());
  x.latency_us = r.getLatencyUs();
  x.backoff_us = r.getBackoffUs();
  x.jitter = r.getJitter();
  return x;
}

} // namespace troupe::detail
