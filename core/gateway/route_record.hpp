#pragma once
// A route choice in the journal's words: schemas/event.hpp's `route_attempt`
// holds the candidates as `route_candidate_record`s (the same fields as
// `route_candidate`, the breaker by name), the strategy by name, the
// exclusions as a list and the choice as an index (-1: none). The gateway
// fills an attempt with `record_choice`; replay checks it with
// `choose_again`: choosing from the journaled inputs alone must give the
// journaled `chosen` and `reason` (prices are integers and doubles travel as
// Float64, so the inputs come back bit for bit).

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/gateway/route_choice.hpp"
#include "schemas/event.hpp"

namespace troupe {

[[nodiscard]] route_candidate_record to_record(const route_candidate& c);
/// Nothing when the breaker's name is unknown.
[[nodiscard]] std::optional<route_candidate> from_record(const route_candidate_record& r);

/// Writes the choice's inputs and result into `a` (candidates, strategy,
/// excluded, chosen, reason); the rest of `a` is the caller's.
void record_choice(route_attempt& a, const std::vector<route_candidate>& candidates,
                   route_strategy strategy, const std::set<std::string>& excluded,
                   const route_choice& choice);

/// choose_route on a journaled attempt's inputs; nothing when its strategy
/// or a breaker name is unknown (a journal this build cannot judge).
[[nodiscard]] std::optional<route_choice> choose_again(const route_attempt& a);

/// Whether choosing again from `a`'s inputs gives its `chosen` and `reason`.
[[nodiscard]] bool replays(const route_attempt& a);

} // namespace troupe
