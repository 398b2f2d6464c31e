#pragma once
// Checkpoint snapshots (RunSnapshot) and approval requests between their
// Cap'n Proto form and the plain structs of schemas/event.hpp. Internal to
// schemas/ (codec.cpp); nothing here throws beyond what a Cap'n Proto reader
// throws on malformed input, which codec.cpp catches.

#include "journal.capnp.h"
#include "schemas/event.hpp"

namespace troupe::detail {

void put(schema::ApprovalRequest::Builder b, const approval_request& x);
[[nodiscard]] approval_request get(schema::ApprovalRequest::Reader r);

/// Empty texts and lists stay unset (null pointers).
void put(schema::RunSnapshot::Builder b, const run_snapshot& x);

/// Returns false when the snapshot holds an enumerant this build does not
/// know (a newer writer's); `x` is then unspecified.
[[nodiscard]] bool get(schema::RunSnapshot::Reader r, run_snapshot& x);

} // namespace troupe::detail
