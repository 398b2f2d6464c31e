#pragma once
// Checkpoint snapshots: the control state of a run (phase, turn, calls in
// flight, counters, pending approvals), compact, without what run_start fixes,
// without the KPIs (the checkpoint event carries them) and without the
// conversation and the recent tool outcomes used in summaries: those are
// projections of the run's events and are never copied into snapshots, so the
// journal grows linearly with the turns, not quadratically.
//
// Contract (tested on every run of the property test): restore(run_start,
// the checkpoint event at seq k) followed by apply() of the events after k
// gives the same control state as folding every event.

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "runtime/run_state.hpp"

namespace troupe {

/// The snapshot bytes stored in a checkpoint event (a compact binary record,
/// see run_snapshot.cpp).
[[nodiscard]] std::string snapshot_of(const run_state& st);

/// Rebuilds a state from the run's run_start event and one of its checkpoint
/// events. The conversation then holds only what run_start gives.
[[nodiscard]] caf::expected<run_state> restore(const event& start, const event& checkpoint);

/// Whether two states agree on everything a snapshot carries.
[[nodiscard]] bool same_control_state(const run_state& a, const run_state& b);

} // namespace troupe
