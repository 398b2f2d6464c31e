#include "actors/model_route.hpp"

#include <algorithm>
#include <deque>
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
// flight fails, the run gets a failed reply and goes on; every other request
// reaches the new worker. So the worker gets one request at a time and the
// rest wait here: requests delegated to it would sit in its mailbox and all
// fail with it (request_receiver_down), failing the runs that share the
// route along with the one whose request crashed it.
struct supervisor_state {
  static inline const char* name = "troupe.model_route_supervisor";
  std::string route;
  std::shared_ptr<model_provider> provider;
  caf::actor worker;
  /// The live worker, shared with the exit functor that takes it down.
  std::shared_ptr<caf::actor> current = std::make_shared<caf::actor>();
  std::chrono::milliseconds backoff{0};
  /// A request is at the worker.
  bool busy = false;
  /// The worker failed a request: it is going down, so nothing more is sent
  /// to it, whether or not its down message has arrived yet.
  bool failing = false;
  /// Requests waiting for the worker, oldest first.
  std::deque<std::pair<caf::response_promise, model_call>> queue;
};

using route_supervisor = caf::stateful_actor<supervisor_state>;

void start_worker(route_supervisor* self) {
  auto& st = self->state;
  st.worker = st.provider->blocking()
                ? self->spawn<caf::detached + caf::monitored>(model_route, st.provider)
                : self->spawn<caf::monitored>(model_route, st.provider);
  *st.current = st.worker;
  st.busy = false;
  st.failing = false;
}

// Hands the oldest waiting request to the worker when it is free.
void pump(route_supervisor* self) {
  auto& st = self->state;
  if (!st.worker || st.busy || st.failing || st.queue.empty())
    return;
  auto rp = std::move(st.queue.front().first);
  auto call = std::move(st.queue.front().second);
  st.queue.pop_front();
  st.busy = true;
  auto worker = st.worker;
  self->request(worker, caf::infinite, complete_atom::value, std::move(call))
    .then(
      [=](model_response& r) mutable {
        rp.deliver(std::move(r));
        self->state.busy = false;
        pump(self);
      },
      [=](caf::error& err) mutable {
        // The worker only ever replies with a response: an error means it
        // crashed serving this request. The rest wait for its restart (a
        // successor, if one started already, is not the one that failed).
        rp.deliver(std::move(err));
        auto& st = self->state;
        if (st.worker != worker)
          return;
        st.busy = false;
        st.failing = true;
      });
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
    [=](complete_atom, model_call& call) -> caf::result<model_response> {
      auto rp = self->make_response_promise();
      self->state.queue.emplace_back(rp, std::move(call));
      pump(self);
      return caf::delegated<model_response>{};
    },
    [=](restart_atom) {
      if (self->state.worker)
        return;
      start_worker(self);
      pump(self);
    },
    // A canceled run's request: a provider's `complete` cannot be
    // interrupted, so its reply is simply awaited (the run drops it).
    [=](cancel_atom, const std::string&) {},
  };
}

} // namespace

caf::actor spawn_model_route(caf::actor_system& sys, std::string name,
                             std::shared_ptr<model_provider> provider) {
  return sys.spawn(supervised_route, std::move(name), std::move(provider));
}

} // namespace troupe
