#pragma once
// Checks, verifications, team phases, gates and artifacts between their Cap'n
// Proto form and the plain structs of schemas/event.hpp. Internal to schemas/.

#include <string>
#include <vector>

#include "journal.capnp.h"
#include "schemas/event.hpp"

namespace troupe::detail {

void put(capnp::List<schema::Check>::Builder b, const std::vector<gate_check>& xs);
[[nodiscard]] std::vector<gate_check> get(capnp::List<schema::Check>::Reader r);

void put(capnp::List<schema::Phase>::Builder b, const std::vector<team_phase>& xs);
[[nodiscard]] std::vector<team_phase> get(capnp::List<schema::Phase>::Reader r);

void put(schema::Artifact::Builder b, const artifact& x);
[[nodiscard]] artifact get(schema::Artifact::Reader r);

void put(schema::Verification::Builder b, const verification& x);
[[nodiscard]] verification get(schema::Verification::Reader r);

void put(schema::PhaseStart::Builder b, const phase_start& x);
[[nodiscard]] phase_start get(schema::PhaseStart::Reader r);

void put(schema::GateOutcome::Builder b, const gate_outcome& x);
[[nodiscard]] gate_outcome get(schema::GateOutcome::Reader r);

} // namespace troupe::detail
