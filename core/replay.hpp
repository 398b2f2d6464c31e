#pragma once
// Deterministic replay: re-run a run's logic over its journal. Model replies,
// tool results, timestamps and cancels are inputs taken from the journal; every
// other event is a decision the state machine must make again, identically.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "core/run_rebuild.hpp"
#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

struct replay_divergence {
  uint32_t seq = 0;     ///< the journal event where replay split off
  std::string expected; ///< what the logic decides now
  std::string got;      ///< what the journal holds
};

struct replay_report {
  uint64_t events = 0;    ///< events checked
  uint64_t snapshots = 0; ///< checkpoint snapshots compared with the fold
  uint32_t from_seq = 0;  ///< the checkpoint replay started after; 0: run_start
  std::optional<replay_divergence> divergence;
  [[nodiscard]] bool identical() const noexcept { return !divergence; }
};

/// Replays `events` (one run, in seq order). `registry` decides which tool
/// calls pass the envelope and `governance` decides them, as when the run was
/// live; give another policy to ask what it would have changed (what-if):
/// the first divergence is where the runs would split. At every checkpoint
/// the journaled snapshot must also equal the one the fold so far gives
/// (otherwise a divergence naming the checkpoint's seq and the first field
/// that differs), so every snapshot a resume could start from is verified.
/// Pure: no I/O.
[[nodiscard]] replay_report replay_run(const std::vector<event>& events,
                                       const tool_registry& registry,
                                       const policy& governance);

/// Replays only the events after a run's restore point (run_rebuild.hpp),
/// starting from the state its snapshot restores; without a restore point,
/// every event (replay_run). The snapshot started from is trusted, as resume
/// trusts it; those after it are compared with the fold. For long runs: the
/// cost is the tail's, not the run's.
[[nodiscard]] replay_report replay_from_checkpoint(const rebuilt_run& run,
                                                   const tool_registry& registry,
                                                   const policy& governance);

/// A one-line rendering of the fields replay compares, e.g.
/// `turn_start turn=2 mode=repair`.
[[nodiscard]] std::string describe_decision(const event& ev);

} // namespace troupe
