#pragma once
// Admission of runs, as pure decisions the run supervisor and the embedding
// facade call:
//
// - `admit_run`: whether a scenario can start a run as asked, and the
//   run_start that run journals first.
// - `resume_gate`: how many resumed runs may be alive at once, and which
//   waiting one starts when a slot frees. A process restarting with many
//   unfinished runs must not stampede its models and tools.
//
// Nothing here touches actors, files or clocks.

#include <cstddef>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/scenario.hpp"
#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// Checks that `sc` can start a run with agent `agent` (empty: the
/// scenario's) on task `task` (empty: the scenario's), and builds the run's
/// run_start. `scenario_key` is how the run_start names its scenario, so that
/// resume finds it again. The agent must exist, the task must not be empty,
/// and every tool the agent lists must be in `registry`; an MCP tool
/// (`server__tool`) is copied into `run_start.external_tools`.
/// Errors: `runtime_errc::invalid_scenario` (no such agent, no task) and
/// `runtime_errc::unknown_tool`, naming `sc.source` and what to change.
[[nodiscard]] caf::expected<run_start> admit_run(const scenario& sc, const std::string& agent,
                                                 const std::string& task,
                                                 const tool_registry& registry,
                                                 std::string scenario_key);

/// At most `limit` resumed runs alive at once (0 counts as 1); the others
/// wait in the order they were admitted. New runs do not pass the gate.
class resume_gate {
public:
  explicit resume_gate(size_t limit);

  /// True when `run_id` may start now: it holds a slot until `release`.
  /// False: it waits for one.
  [[nodiscard]] bool admit(const std::string& run_id);

  /// `run_id` ended or was given up. When it held a slot, the first waiting
  /// run takes that slot and is returned: start it. A waiting run leaves the
  /// queue. An id the gate does not know changes nothing.
  [[nodiscard]] std::optional<std::string> release(const std::string& run_id);

  /// Empties the queue (shutdown) and returns what waited, in order.
  [[nodiscard]] std::vector<std::string> drop_waiting();

  [[nodiscard]] size_t alive() const noexcept { return alive_.size(); }
  [[nodiscard]] size_t waiting() const noexcept { return waiting_.size(); }
  [[nodiscard]] size_t limit() const noexcept { return limit_; }

private:
  size_t limit_;
  std::set<std::string> alive_;
  std::deque<std::string> waiting_;
};

} // namespace troupe
