#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "runtime/tool_registry.hpp"

namespace troupe {

/// Spawns a pool of `workers` detached tool workers behind one handle
/// (round robin). Each answers `(execute_atom, tool_request) -> tool_outcome`.
/// Tools do file I/O and will run processes, so they never run on CAF's
/// cooperative threads.
[[nodiscard]] caf::actor
spawn_tool_pool(caf::actor_system& sys,
                std::shared_ptr<const tool_registry> registry, size_t workers,
                bool detached = true);

} // namespace troupe
