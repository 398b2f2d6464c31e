#pragma once
// The delegation graph of a scenario (docs/scenario-format.md): `[delegation]`
// and the `delegates` of each `[agents.X]`. Called by parse_scenario after
// [agents].

#include <string>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "core/scenario.hpp"

namespace troupe::detail {

/// Reads `[delegation]` into `out.limits` and `out.children_on_end`, checks
/// that every agent's `delegates` names agents, and offers `delegate` to
/// exactly the agents that may delegate. Errors as parse_scenario's.
[[nodiscard]] caf::error parse_delegation(const toml::table& root, const std::string& source,
                                          scenario& out);

} // namespace troupe::detail
