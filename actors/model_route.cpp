#include "actors/model_route.hpp"

#include <algorithm>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct route_state {
  static inline const char* name = "troupe.model_route";
  std::shared_ptr<model_provider> provider;
};

caf::behavior model_route(caf::stateful_actor<route_state>* self,
                          std::shared_ptr<model_provider> provider) {
  self->state.provider = std::move(provider);
  return {
    [=](complete_atom, const model_call& call) -> model_response {
      return self->state.provider->complete(call);
    },
  };
}

// The route clients see. It owns the worker that calls the provider and
// restarts it when it crashes (a provider that throws): the request in
// flight fails, the run gets a failed reply and goes on; later requests reach
// the new worker.
struct supervisor_state {
  static inline const char* name = "troupe.model_route_supervisor";
  std::string route;
  std::shared_ptr<model_provider> provider;
  caf::actor worker;
  /// The live worker, shared with the exit functor that takes it down.
  std::shared_ptr<caf::actor> current = std::make_shared<caf::actor>();
  std::chrono::milliseconds backoff{0};
  /// Requests that arrived while the worker was restarting.
  std::vector<std::pair<caf::response_promise, model_call>> held;
};

using route_supervisor = caf::stateful_actor<supervisor_state>;

void start_worker(route_supervisor* self) {
  auto& st = self->state;
  st.worker = st.provider->blocking()
                ? self->spawn<caf::detached + caf::monitored>(model_route, st.provider)
                : self->spawn<caf::monitored>(model_route, st.provider);
  *st.current = st.worker;
}

caf::behavior supervised_route(route_supervisor* self, std::string name,
                               std::shared_ptr<model_provider> provider) {
  self->state.route = std::move(name);
  self->state.provider = std::move(provider);
  start_worker(self);
  // The worker goes with its supervisor (the functor outlives the state).
  auto current = self->state.current;
  self->attach_functor([current](const caf::error&) {
    if (*current)
      caf::anon_send_exit(*current, caf::exit_reason::user_shutdown);
    *current = nullptr;
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source != st.worker.address())
      return;
    st.worker = nullptr;
    *st.current = nullptr;
    st.backoff = std::min(std::max(st.backoff * 2, std::chrono::milliseconds{5}),
                          std::chrono::milliseconds{1000});
    spdlog::warn("model route {}: worker crashed ({}); restarting in {} ms", st.route,
                 render(dm.reason), st.backoff.count());
    self->delayed_send(self, st.backoff, restart_atom::value);
  });
  return {
    [=](complete_atom a, model_call& call) -> caf::result<caf::message> {
      auto& st = self->state;
      if (!st.worker) {
        auto rp = self->make_response_promise();
        st.held.emplace_back(rp, std::move(call));
        return rp;
      }
      return self->delegate(st.worker, a, std::move(call));
    },
    [=](restart_atom) {
      auto& st = self->state;
      if (st.worker)
        return;
      start_worker(self);
      for (auto& [rp, call] : st.held)
        rp.delegate(st.worker, complete_atom::value, std::move(call));
      st.held.clear();
    },
  };
}

} // namespace

caf::actor spawn_model_route(caf::actor_system& sys, std::string name,
                             std::shared_ptr<model_provider> provider) {
  return sys.spawn(supervised_route, std::move(name), std::move(provider));
}

} // namespace troupe
