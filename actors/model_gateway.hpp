#pragma once
// A routed model: one actor per (scenario, model) whose `[models.X]` is a
// route over endpoints. It answers what a model route answers:
//
//   (complete_atom, model_call) -> model_response
//       The reply of the attempt that answered, or the last failure, with
//       `attempts` holding one route_attempt per attempt made, in order (the
//       run journals them before its model_reply). Never an error message.
//   (cancel_atom, run_id)
//       Aborts that run's transfers; its pending request is answered at once
//       with failure `canceled`.
//
// Per request: the tier (strategy tiers: declared by the scenario, else
// `classify_tier`) picks the candidates; `choose_route` picks one by the
// strategy among the pairs not yet tried whose breakers admit requests; the
// attempt is sent (model_exchange.hpp). A failed attempt is folded into the
// shared health (endpoint_pool.hpp) and `next_attempt` decides: retry the
// same endpoint after a backoff (honouring Retry-After), fall back to the
// next candidate, or give up. With hedging on, when the chosen candidate has
// not begun its reply (no first token) within its latency quantile, the same
// request goes to the next candidate too; the first reply wins and the other transfer is aborted
// (journaled as `lost_hedge`). Every choice is pure (core/gateway/); this
// actor keeps only timers, transfers and the promise.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/endpoint_pool.hpp"
#include "core/gateway/attempt_plan.hpp"
#include "core/scenario.hpp"

namespace troupe {

/// Called on an I/O thread with each piece of streamed text of `run_id`.
using model_delta_sink = std::function<void(const std::string& run_id, std::string_view text)>;

struct gateway_config {
  model_config route;
  /// The endpoints the route names, with their keys resolved.
  std::map<std::string, endpoint_config> endpoints;
  std::map<std::string, std::string> api_keys; ///< endpoint name -> key
  std::string declared_tier;                   ///< empty: inferred per request
  std::shared_ptr<endpoint_pool> pool;
  model_delta_sink on_delta; ///< optional
  retry_config retries; ///< max_attempts comes from the route
  hedge_config hedge;   ///< enabled and quantile come from the route
};

[[nodiscard]] caf::actor spawn_model_gateway(caf::actor_system& sys, gateway_config cfg);

} // namespace troupe
