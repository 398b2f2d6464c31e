#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "core/model_provider.hpp"

namespace troupe {

/// Spawns the route actor of one model endpoint. It answers
/// `(complete_atom, model_call) -> model_response` and ignores `(cancel_atom,
/// run_id)` (a provider call cannot be interrupted). A blocking provider gets
/// its own thread (detached) so HTTP never stalls CAF's workers; the provider
/// is owned by the route from here on.
[[nodiscard]] caf::actor spawn_model_route(caf::actor_system& sys,
                                           std::string name,
                                           std::shared_ptr<model_provider> provider);

} // namespace troupe
