#pragma once
// SOP teams and checks in a scenario (docs/scenario-format.md): `[teams.NAME]`
// with its `[[teams.NAME.phases]]`, `[run].team`, `[[run.verify]]` and
// `[run].max_fix_attempts`. Called by parse_scenario after [agents].

#include <string>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "core/scenario.hpp"

namespace troupe::detail {

/// Fills `out.teams`, `out.verify` and `out.max_fix_attempts`; checks that
/// `[run].team` names a team and every phase's role an agent. Errors as
/// parse_scenario's.
[[nodiscard]] caf::error parse_teams(const toml::table& root, const std::string& source,
                                     scenario& out);

} // namespace troupe::detail
