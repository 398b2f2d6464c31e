#pragma once
// The run supervisor: root of the run trees. It starts runs, and when a run
// actor crashes (an exception, a failed invariant) it restarts it from the
// journal with exponential backoff. More than `max_restarts` crashes within
// `window` end the run `failed` (reason restart_intensity_exceeded), journaled,
// and its owner is told through on_done.
//
// Protocol: (start_atom, run_launch)            starts a run
//           (cancel_atom, std::string run_id)   -> bool: forwarded to the run

#include <chrono>
#include <cstdint>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/run.hpp"

namespace troupe {

struct restart_policy {
  uint32_t max_restarts = 3;
  std::chrono::milliseconds window{10000};
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{2000};
};

/// A run to start: what it is and how it is wired. Carries std::function
/// members, so it only travels within one process (runs are supervised on
/// the node that hosts them).
struct run_launch {
  run_spec spec;
  run_wiring wiring;
};

[[nodiscard]] caf::actor spawn_run_supervisor(caf::actor_system& sys,
                                              caf::actor journal,
                                              restart_policy policy);

} // namespace troupe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::run_launch)
