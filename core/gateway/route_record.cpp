#include "core/gateway/route_record.hpp"

namespace troupe {

route_candidate_record to_record(const route_candidate& c) {
  route_candidate_record r;
  r.endpoint = c.endpoint;
  r.model = c.model;
  r.breaker = std::string(to_string(c.breaker));
  r.probing = c.probing;
  r.open_until_us = c.open_until_us;
  r.score = c.score;
  r.latency_ms = c.latency_ms;
  r.error_rate = c.error_rate;
  r.input_micro_usd_per_mtok = c.input_micro_usd_per_mtok;
  r.output_micro_usd_per_mtok = c.output_micro_usd_per_mtok;
  r.quality = c.quality;
  r.full = c.full;
  return r;
}

std::optional<route_candidate> from_record(const route_candidate_record& r) {
  route_candidate c;
  if (!from_string(r.breaker, c.breaker))
    return std::nullopt;
  c.endpoint = r.endpoint;
  c.model = r.model;
  c.probing = r.probing;
  c.open_until_us = r.open_until_us;
  c.score = r.score;
  c.latency_ms = r.latency_ms;
  c.error_rate = r.error_rate;
  c.input_micro_usd_per_mtok = r.input_micro_usd_per_mtok;
  c.output_micro_usd_per_mtok = r.output_micro_usd_per_mtok;
  c.quality = r.quality;
  c.full = r.full;
  return c;
}

void record_choice(route_attempt& a, const std::vector<route_candidate>& candidates,
                   route_strategy strategy, const std::set<std::string>& excluded,
                   const route_choice& choice) {
  a.candidates.clear();
  for (const auto& c : candidates)
    a.candidates.push_back(to_record(c));
  a.strategy = std::string(to_string(strategy));
  a.excluded.assign(excluded.begin(), excluded.end());
  a.chosen = choice.index ? static_cast<int32_t>(*choice.index) : -1;
  a.reason = choice.reason;
}

std::optional<route_choice> choose_again(const route_attempt& a) {
  route_strategy strategy;
  if (!from_string(a.strategy, strategy))
    return std::nullopt;
  std::vector<route_candidate> candidates;
  candidates.reserve(a.candidates.size());
  for (const auto& r : a.candidates) {
    auto c = from_record(r);
    if (!c)
      return std::nullopt;
    candidates.push_back(std::move(*c));
  }
  return choose_route(candidates, strategy,
                      std::set<std::string>(a.excluded.begin(), a.excluded.end()));
}

bool replays(const route_attempt& a) {
  auto again = choose_again(a);
  if (!again)
    return false;
  auto chosen = again->index ? static_cast<int32_t>(*again->index) : -1;
  return chosen == a.chosen && again->reason == a.reason;
}

} // namespace troupe
