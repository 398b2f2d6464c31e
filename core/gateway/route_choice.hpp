#pragma once
// Which candidate (endpoint:model) of a route answers a request. Pure and
// self-contained: `choose_route` reads only its arguments, which are exactly
// what the gateway journals in a `route_attempt` (the candidates with their
// scores and breaker states, the strategy, the pairs already tried), so
// replay calls it again on the journaled candidates and gets the same
// choice. The gateway builds the candidates with `candidate_of` after
// `refresh`ing each pair's breaker (so a cool-down that is over shows as
// half_open).
//
// Strategies (the order among candidates that may take the request):
//   fallback       the declared order: the first one that admits a request.
//   latency_first  lowest latency EWMA first (`latency_ms`; 0, not measured
//                  yet, comes first, so a new endpoint gets measured).
//   cost_first     lowest blended price first: 3 × input + output price per
//                  million tokens (the 3:1 blend public price comparisons
//                  use; agent requests are input-heavy).
//   quality_first  highest configured `quality` first.
//   tiers          the caller classified the request (tier.hpp) and passes
//                  that tier's candidates: the declared order, as fallback.
//
// One ordering for all of them, lexicographic, so every choice is explained
// by one rule:
//   1. skipped: pairs in `excluded` (already tried in this request), open
//      breakers, half-open breakers whose probe is already out;
//   2. a candidate whose queue has room before a `full` one (full is a hint:
//      a full candidate is still chosen, and waits in its queue, when every
//      other one is full too);
//   3. a half-open candidate (its probe is free) before closed ones, whatever
//      the strategy: a breaker closes only through a probe, and a strategy
//      that ranks the pair last (latency_first after its failures, fallback
//      for a backup) would quarantine it for good. It costs one request per
//      cool-down; if the probe fails, the request falls back;
//   4. the strategy's key;
//   5. ties: the declared order.
// NaN keys rank last (latency NaN as infinitely slow, quality NaN as lowest).
//
// When nothing may take the request, nothing is chosen (fail fast, do not
// force a request through an open breaker: open means no traffic). The
// reason says why and `retry_at_us` is the earliest end of a cool-down among
// the open candidates not excluded: the gateway may wait until then and
// choose again (that candidate then shows half_open and takes its probe),
// or fail the request (`overloaded`) when that is too far for it.
//
// Reasons are stable strings, journaled and shown by `troupe show`:
//   chosen:  "half-open probe", "first healthy in order", "lowest latency
//            ewma", "cheapest", "highest quality", "first healthy in tier
//            order"; with " (all queues full)" appended when the chosen one
//            is full.
//   none:    "no candidates", "all candidates tried", "all breakers open".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/gateway/breaker.hpp"

namespace troupe {

struct endpoint_config;
struct endpoint_health;
struct health_config;

enum class route_strategy : uint8_t { fallback, latency_first, cost_first, quality_first, tiers };

[[nodiscard]] std::string_view to_string(route_strategy s);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, route_strategy& out);

/// One endpoint:model pair as the choice sees it. Plain data: journaled as is.
struct route_candidate {
  std::string endpoint;
  std::string model;
  breaker_state breaker = breaker_state::closed;
  bool probing = false;      ///< half_open: its one probe is out
  int64_t open_until_us = 0; ///< open: when its cool-down ends
  double score = 1;          ///< health score (endpoint_health.hpp), for people
  double latency_ms = 0;     ///< latency EWMA; 0 when not measured yet
  double error_rate = 0;     ///< error-rate EWMA
  /// Prices in micro-USD per million tokens: integers compare and journal exactly.
  uint64_t input_micro_usd_per_mtok = 0;
  uint64_t output_micro_usd_per_mtok = 0;
  double quality = 0;
  bool full = false; ///< requests in flight reached the endpoint's max_concurrency

  /// "endpoint:model", the spelling of `excluded` and of routes in scenarios.
  [[nodiscard]] std::string key() const;
};

struct route_choice {
  std::optional<size_t> index; ///< into the candidates; none: see reason
  std::string reason;
  std::optional<int64_t> retry_at_us; ///< none chosen: earliest end of a cool-down
};

/// The choice, by the ordering above. Pure: equal arguments, equal choice.
[[nodiscard]] route_choice choose_route(const std::vector<route_candidate>& candidates,
                                        route_strategy strategy,
                                        const std::set<std::string>& excluded);

/// The candidate for `model` of `endpoint` with health `h`, now (call
/// `refresh(h, now_us)` first).
[[nodiscard]] route_candidate candidate_of(const endpoint_config& endpoint,
                                           const std::string& model,
                                           const endpoint_health& h,
                                           const health_config& cfg);

/// A price in USD per million tokens, in micro-USD (rounded; negatives 0).
[[nodiscard]] uint64_t micro_usd_per_mtok(double usd_per_mtok);

} // namespace troupe
