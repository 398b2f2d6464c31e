#include "core/gateway/route_choice.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "core/gateway/endpoint_health.hpp"
#include "core/model_endpoint.hpp"

namespace troupe {

namespace {

constexpr std::array<std::string_view, 5> strategy_names{
  "fallback", "latency_first", "cost_first", "quality_first", "tiers",
};

constexpr std::array<std::string_view, 5> strategy_reasons{
  "first healthy in order", "lowest latency ewma", "cheapest", "highest quality",
  "first healthy in tier order",
};

bool may_take(const route_candidate& c) {
  switch (c.breaker) {
    case breaker_state::closed:
      return true;
    case breaker_state::half_open:
      return !c.probing;
    case breaker_state::open:
      return false;
  }
  return false;
}

double latency_key(const route_candidate& c) {
  if (std::isnan(c.latency_ms))
    return std::numeric_limits<double>::infinity();
  return std::max(c.latency_ms, 0.0);
}

double quality_key(const route_candidate& c) {
  return std::isnan(c.quality) ? -std::numeric_limits<double>::infinity() : c.quality;
}

uint64_t blended_price(const route_candidate& c) {
  constexpr auto max = std::numeric_limits<uint64_t>::max();
  auto in = c.input_micro_usd_per_mtok;
  if (in > (max - c.output_micro_usd_per_mtok) / 3)
    return max;
  return 3 * in + c.output_micro_usd_per_mtok;
}

/// Whether `a` ranks strictly before `b` by the strategy's key alone.
bool key_before(const route_candidate& a, const route_candidate& b, route_strategy s) {
  switch (s) {
    case route_strategy::latency_first:
      return latency_key(a) < latency_key(b);
    case route_strategy::cost_first:
      return blended_price(a) < blended_price(b);
    case route_strategy::quality_first:
      return quality_key(a) > quality_key(b);
    case route_strategy::fallback:
    case route_strategy::tiers:
      return false;
  }
  return false;
}

/// Steps 2-4 of the ordering; step 5 (declared order) comes from the scan
/// keeping the earlier of two equal candidates.
bool before(const route_candidate& a, const route_candidate& b, route_strategy s) {
  if (a.full != b.full)
    return !a.full;
  bool a_probe = a.breaker == breaker_state::half_open;
  bool b_probe = b.breaker == breaker_state::half_open;
  if (a_probe != b_probe)
    return a_probe;
  return key_before(a, b, s);
}

std::string reason_of(const route_candidate& c, route_strategy s) {
  std::string r{c.breaker == breaker_state::half_open
                  ? std::string_view{"half-open probe"}
                  : strategy_reasons[static_cast<size_t>(s)]};
  if (c.full)
    r += " (all queues full)";
  return r;
}

} // namespace

std::string_view to_string(route_strategy s) {
  return strategy_names[static_cast<size_t>(s)];
}

bool from_string(std::string_view name, route_strategy& out) {
  for (size_t i = 0; i < strategy_names.size(); ++i)
    if (strategy_names[i] == name) {
      out = static_cast<route_strategy>(i);
      return true;
    }
  return false;
}

std::string route_candidate::key() const {
  return endpoint + ":" + model;
}

route_choice choose_route(const std::vector<route_candidate>& candidates,
                          route_strategy strategy, const std::set<std::string>& excluded) {
  if (candidates.empty())
    return {std::nullopt, "no candidates", std::nullopt};
  std::optional<size_t> best;
  std::optional<int64_t> retry_at;
  bool any_left = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if (excluded.count(c.key()) > 0)
      continue;
    any_left = true;
    if (!may_take(c)) {
      if (c.breaker == breaker_state::open)
        retry_at = std::min(retry_at.value_or(c.open_until_us), c.open_until_us);
      continue;
    }
    if (!best || before(c, candidates[*best], strategy))
      best = i;
  }
  if (best)
    return {best, reason_of(candidates[*best], strategy), std::nullopt};
  if (!any_left)
    return {std::nullopt, "all candidates tried", std::nullopt};
  return {std::nullopt, "all breakers open", retry_at};
}

route_candidate candidate_of(const endpoint_config& endpoint, const std::string& model,
                             const endpoint_health& h, const health_config& cfg) {
  route_candidate c;
  c.endpoint = endpoint.name;
  c.model = model;
  c.breaker = h.breaker.state;
  c.probing = h.breaker.state == breaker_state::half_open && h.breaker.probe_in_flight;
  c.open_until_us = h.breaker.state == breaker_state::open ? h.breaker.open_until_us : 0;
  c.score = health_score(h, cfg);
  c.latency_ms = h.latency_ms;
  c.error_rate = h.error_rate;
  c.input_micro_usd_per_mtok = micro_usd_per_mtok(endpoint.input_usd_per_mtok);
  c.output_micro_usd_per_mtok = micro_usd_per_mtok(endpoint.output_usd_per_mtok);
  c.quality = endpoint.quality;
  c.full = endpoint.max_concurrency > 0 && h.in_flight >= endpoint.max_concurrency;
  return c;
}

uint64_t micro_usd_per_mtok(double usd_per_mtok) {
  if (!(usd_per_mtok > 0))
    return 0;
  auto micro = usd_per_mtok * 1e6;
  if (micro >= 9e18) // beyond llround's range; no real price comes near
    return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(std::llround(micro));
}

} // namespace troupe
