#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "core/tool_registry.hpp"

namespace troupe {

/// Spawns a pool of `workers` detached tool workers behind one handle
/// (round robin). Each answers `(execute_atom, tool_request) -> tool_outcome`
/// and `(execute_atom, tool_request, int64_t give_up_ns) -> tool_outcome`:
/// the second form is not run (a failed outcome) once the steady clock
/// (nanoseconds since its epoch) has reached `give_up_ns`, the moment its
/// requester stopped waiting. Tools do file I/O and run processes, so they
/// never run on CAF's cooperative threads. A worker cannot stop a call that
/// is running; tools must bound themselves (the file tools never block, the
/// shell tool has its sandbox's time limit).
[[nodiscard]] caf::actor
spawn_tool_pool(caf::actor_system& sys,
                std::shared_ptr<const tool_registry> registry, size_t workers,
                bool detached = true);

} // namespace troupe
