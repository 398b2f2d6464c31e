#include "actors/model_route.hpp"

#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace troupe {

namespace {

struct route_state {
  static inline const char* name = "troupe.model_route";
  std::string route;
  std::shared_ptr<model_provider> provider;
};

caf::behavior model_route(caf::stateful_actor<route_state>* self,
                          std::string name,
                          std::shared_ptr<model_provider> provider) {
  self->state.route = std::move(name);
  self->state.provider = std::move(provider);
  return {
    [=](complete_atom, const model_call& call) -> model_response {
      return self->state.provider->complete(call);
    },
  };
}

} // namespace

caf::actor spawn_model_route(caf::actor_system& sys, std::string name,
                             std::shared_ptr<model_provider> provider) {
  if (provider->blocking())
    return sys.spawn<caf::detached>(model_route, std::move(name),
                                    std::move(provider));
  return sys.spawn(model_route, std::move(name), std::move(provider));
}

} // namespace troupe
