#pragma once
// Checkpoint snapshots: the control state of a run (phase, turn, progress
// through the current reply's calls, counters, pending approvals), compact,
// without what run_start fixes, without the KPIs (the checkpoint event carries
// them), without the calls themselves (the reply's model_reply event has them)
// and without the conversation and the recent tool outcomes used in summaries:
// those are projections of the run's events and are never copied into
// snapshots, so the journal grows linearly with the turns and with the calls
// of a reply, not quadratically.
//
// Contract (tested on every run of the property test): restore(run_start,
// the last model_reply before seq k, the checkpoint event at seq k) followed
// by apply() of the events after k gives the same control state as folding
// every event. The arguments of a finished call are not control state: no
// step reads them again (restore gives the model's, the fold the normalized).

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "core/run_state.hpp"

namespace troupe {

/// The snapshot bytes stored in a checkpoint event (a compact binary record,
/// see run_snapshot.cpp).
[[nodiscard]] std::string snapshot_of(const run_state& st);

/// Rebuilds a state from the run's run_start event, its last model_reply
/// event before the checkpoint (nullptr when it has none yet) and one of its
/// checkpoint events. The conversation then holds only what run_start gives.
[[nodiscard]] caf::expected<run_state> restore(const event& start, const event* reply,
                                               const event& checkpoint);

/// Whether two states agree on everything a snapshot carries.
[[nodiscard]] bool same_control_state(const run_state& a, const run_state& b);

} // namespace troupe
