#pragma once
// The run actor: a thin shell around runtime/run_state. It asks the state
// machine for the next step, performs it (journal, model route, tool pool)
// and folds the resulting events back into the state.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "runtime/run_result.hpp"
#include "runtime/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// What one run needs from its surroundings. Copied into the actor.
struct run_wiring {
  caf::actor journal;
  caf::actor route; ///< the model route of the agent's model
  caf::actor tools; ///< the tool pool
  std::shared_ptr<const tool_registry> registry;
  /// Reads the clock for event timestamps (microseconds since the epoch).
  std::function<int64_t()> clock;
  /// Called for every event the run journals, in order (progress output).
  std::function<void(const event&)> on_event;
  /// Called once with the result, after the completion is durable.
  std::function<void(const run_result&)> on_done;
  std::chrono::milliseconds model_timeout{60000};
  std::chrono::milliseconds tool_timeout{60000};
};

/// What to run.
struct run_spec {
  std::string run_id;
  std::string parent_run_id;
  std::string root_run_id;
  run_start start; ///< agent, task, model, tools, limits, workspace, ...
};

/// Spawns a run; it journals run_start and drives itself to completion.
/// Send it `cancel_atom` to cancel.
[[nodiscard]] caf::actor spawn_run(caf::actor_system& sys, run_spec spec,
                                   run_wiring wiring);

/// Microseconds since the Unix epoch from the system clock.
[[nodiscard]] int64_t system_clock_us();

} // namespace troupe
