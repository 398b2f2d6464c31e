#pragma once
// Limits, KPIs and the delegation events between their Cap'n Proto form and
// the plain structs of schemas/event.hpp. Internal to schemas/ (the codec and
// the snapshot codec share them).

#include "journal.capnp.h"
#include "schemas/event.hpp"

namespace troupe::detail {

void put(schema::Limits::Builder b, const limits_record& x);
[[nodiscard]] limits_record get(schema::Limits::Reader r);

void put(schema::Kpis::Builder b, const kpis& x);
[[nodiscard]] kpis get(schema::Kpis::Reader r);

void put(schema::Delegation::Builder b, const delegation& x);
[[nodiscard]] delegation get(schema::Delegation::Reader r);

void put(schema::DelegationResult::Builder b, const delegation_result& x);
/// False for a status this build does not know (a newer writer's).
[[nodiscard]] bool get(schema::DelegationResult::Reader r, delegation_result& out);

} // namespace troupe::detail
