#pragma once
// Deterministic replay: re-run a run's logic over its journal. Model replies,
// tool results, timestamps and cancels are inputs taken from the journal; every
// other event is a decision the state machine must make again, identically.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

struct replay_divergence {
  uint32_t seq = 0;     ///< the journal event where replay split off
  std::string expected; ///< what the logic decides now
  std::string got;      ///< what the journal holds
};

struct replay_report {
  uint64_t events = 0; ///< events checked
  std::optional<replay_divergence> divergence;
  [[nodiscard]] bool identical() const noexcept { return !divergence; }
};

/// Replays `events` (one run, in seq order). `registry` decides which tool
/// calls pass the envelope and `governance` decides them, as when the run was
/// live; give another policy to ask what it would have changed (what-if):
/// the first divergence is where the runs would split. Pure: no I/O.
[[nodiscard]] replay_report replay_run(const std::vector<event>& events,
                                       const tool_registry& registry,
                                       const policy& governance);

/// A one-line rendering of the fields replay compares, e.g.
/// `turn_start turn=2 mode=repair`.
[[nodiscard]] std::string describe_decision(const event& ev);

} // namespace troupe
