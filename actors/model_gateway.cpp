#include "actors/model_gateway.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/run.hpp"
#include "core/gateway/route_record.hpp"
#include "core/gateway/tier.hpp"

namespace troupe {

namespace {

using attempt_done_atom = caf::atom_constant<caf::atom("gwdone")>;
using hedge_atom = caf::atom_constant<caf::atom("gwhedge")>;
using next_attempt_atom = caf::atom_constant<caf::atom("gwnext")>;

/// One attempt of a request in flight.
struct live_attempt {
  size_t index = 0; ///< into the request's attempts
  std::string key;  ///< endpoint:model
  std::shared_ptr<model_exchange> exchange;
  bool probe = false;
};

struct pending_request {
  caf::response_promise promise;
  model_call call;
  std::vector<route_target> targets;
  std::string tier;
  std::string tier_reason;
  std::set<std::string> tried;
  std::map<std::string, uint32_t> tries_per_key;
  std::vector<route_attempt> attempts;
  std::vector<live_attempt> live;
  model_response last_failure;
};

struct gateway_state {
  static inline const char* name = "troupe.model_gateway";
  gateway_config cfg;
  route_strategy strategy = route_strategy::fallback;
  hedge_config hedge;
  std::map<uint64_t, pending_request> requests;
  uint64_t next_id = 1;
  std::mt19937_64 rng{std::random_device{}()};

  ~gateway_state() {
    // Transfers of requests nobody will answer any more.
    for (auto& [id, req] : requests)
      for (auto& l : req.live)
        l.exchange->cancel();
  }
};

using gateway_actor = caf::stateful_actor<gateway_state>;

int64_t now_us() {
  return system_clock_us();
}

double draw(gateway_actor* self) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(self->state.rng);
}

void deliver(gateway_actor* self, uint64_t id, model_response r) {
  auto i = self->state.requests.find(id);
  if (i == self->state.requests.end())
    return;
  auto req = std::move(i->second);
  self->state.requests.erase(i);
  for (auto& l : req.live) // the losers of a hedge, or a canceled request's
    l.exchange->cancel();
  r.attempts = std::move(req.attempts);
  req.promise.deliver(std::move(r));
}

model_response failure(model_failure kind, std::string detail) {
  model_response r;
  r.failure = std::string(to_string(kind));
  r.failure_detail = std::move(detail);
  return r;
}

// The tier of a request and the candidates it routes to.
void route_request(gateway_actor* self, pending_request& req) {
  auto& cfg = self->state.cfg;
  if (self->state.strategy != route_strategy::tiers) {
    req.targets = cfg.route.route;
    return;
  }
  tier_inputs in;
  task_tier declared;
  if (from_string(cfg.declared_tier, declared))
    in.declared = declared;
  for (auto& m : req.call.messages) {
    if (m.role == chat_role::user && in.task.empty())
      in.task = m.content;
    if (m.role == chat_role::tool)
      ++in.tool_results;
    in.conversation_bytes += m.content.size();
  }
  // `complete` is offered on every turn: it says nothing about the task.
  in.tools_offered = static_cast<uint32_t>(
    std::count_if(req.call.tools.begin(), req.call.tools.end(),
                  [](auto& t) { return t.name != "complete"; }));
  in.turn = req.call.turn;
  auto decided = classify_tier(in);
  req.tier = std::string(to_string(decided.tier));
  req.tier_reason = std::move(decided.reason);
  auto i = cfg.route.tiers.find(req.tier);
  req.targets = i != cfg.route.tiers.end() ? i->second : cfg.route.tiers.at("standard");
}

// Chooses and sends one attempt. `hedge`: beside the live one, which stays.
void start_attempt(gateway_actor* self, uint64_t id, int64_t backoff_us, double jitter,
                   bool hedge) {
  auto& st = self->state;
  auto i = st.requests.find(id);
  if (i == st.requests.end())
    return;
  auto& req = i->second;
  auto now = now_us();
  auto candidates = st.cfg.pool->candidates(req.targets, st.cfg.endpoints, now);
  std::set<std::string> excluded = req.tried;
  for (auto& l : req.live)
    excluded.insert(l.key);
  auto choice = choose_route(candidates, st.strategy, excluded);
  if (hedge && !choice.index)
    return; // nobody to hedge with: the live attempt goes on alone
  route_attempt a;
  a.attempt = static_cast<uint32_t>(req.attempts.size() + 1);
  a.route = st.cfg.route.name;
  a.tier = req.tier;
  a.tier_reason = req.tier_reason;
  record_choice(a, candidates, st.strategy, excluded, choice);
  a.hedge = hedge;
  a.backoff_us = static_cast<uint64_t>(backoff_us);
  a.jitter = jitter;
  if (!choice.index) {
    a.outcome = "unavailable";
    req.attempts.push_back(std::move(a));
    auto last = req.last_failure.failure.empty()
                  ? failure(model_failure::overloaded, "route " + st.cfg.route.name + ": "
                                                         + choice.reason)
                  : req.last_failure;
    if (req.live.empty())
      deliver(self, id, std::move(last));
    return;
  }
  auto& chosen = candidates[*choice.index];
  auto key = chosen.key();
  auto booked = st.cfg.pool->begin(key, now);
  if (booked.transition)
    spdlog::info("endpoint {}: breaker {} -> {} ({})", key, to_string(booked.transition->from),
                 to_string(booked.transition->to), booked.transition->reason);
  size_t index = req.attempts.size();
  req.attempts.push_back(std::move(a));
  ++req.tries_per_key[key];
  exchange_request ex_req{st.cfg.endpoints.at(chosen.endpoint), chosen.model, {}};
  if (auto k = st.cfg.api_keys.find(chosen.endpoint); k != st.cfg.api_keys.end())
    ex_req.api_key = k->second;
  auto run_id = req.call.run_id;
  exchange_delta on_delta;
  if (st.cfg.on_delta)
    on_delta = [sink = st.cfg.on_delta, run_id](std::string_view text) { sink(run_id, text); };
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto exchange = start_exchange(st.cfg.pool->transport(), ex_req, req.call, std::move(on_delta),
                                 [me, id, index](model_response r) {
                                   caf::anon_send(me, attempt_done_atom::value, id, index,
                                                  std::move(r));
                                 });
  req.live.push_back({index, key, std::move(exchange), booked.probe});
  if (st.hedge.enabled && !hedge)
    if (auto delay = st.cfg.pool->hedge_delay(key, st.hedge))
      self->delayed_send(self, std::chrono::microseconds{*delay}, hedge_atom::value, id, index);
}

void attempt_done(gateway_actor* self, uint64_t id, size_t index, model_response r) {
  auto& st = self->state;
  auto now = now_us();
  auto i = st.requests.find(id);
  model_failure kind = model_failure::none;
  if (!r.failure.empty() && !from_string(r.failure, kind))
    kind = model_failure::server_error;
  // The health hears every attempt that was booked, even one whose request
  // is already answered (a hedge's loser: canceled, which counts for nothing).
  std::string key = r.endpoint + ":" + r.model;
  bool probe = false;
  if (i != st.requests.end()) {
    auto& live = i->second.live;
    auto l = std::find_if(live.begin(), live.end(), [&](auto& x) { return x.index == index; });
    if (l != live.end()) {
      key = l->key;
      probe = l->probe;
      live.erase(l);
    }
  }
  if (r.cost_micro_usd != 0)
    st.cfg.pool->spent(key, r.cost_micro_usd);
  if (auto t = st.cfg.pool->observe(key, {kind, r.latency_us, r.first_token_us, probe}, now))
    spdlog::info("endpoint {}: breaker {} -> {} ({})", key, to_string(t->from), to_string(t->to),
                 t->reason);
  if (i == st.requests.end())
    return;
  auto& req = i->second;
  auto& a = req.attempts[index];
  a.outcome = kind == model_failure::none ? "answered" : r.failure;
  a.latency_us = r.latency_us;
  if (kind == model_failure::none) {
    for (auto& l : req.live)
      req.attempts[l.index].outcome = "lost_hedge";
    deliver(self, id, std::move(r));
    return;
  }
  req.tried.insert(key);
  req.last_failure = r;
  if (!req.live.empty())
    return; // the hedge partner may still answer
  auto candidates = st.cfg.pool->candidates(req.targets, st.cfg.endpoints, now);
  failed_attempt f;
  f.failure = kind;
  f.retry_after_ms = r.retry_after_ms;
  f.attempts = static_cast<uint32_t>(req.attempts.size());
  f.endpoint_attempts = req.tries_per_key[key];
  f.endpoint_admits = st.cfg.pool->admits(key, now);
  f.can_fall_back = choose_route(candidates, st.strategy, req.tried).index.has_value();
  auto jitter = draw(self);
  auto plan = next_attempt(f, jitter, st.cfg.retries);
  switch (plan.action) {
    case attempt_action::give_up:
      r.failure_detail = r.failure_detail.empty() ? plan.reason
                                                  : r.failure_detail + " (" + plan.reason + ")";
      deliver(self, id, std::move(r));
      return;
    case attempt_action::fall_back:
      start_attempt(self, id, 0, 0, false);
      return;
    case attempt_action::retry_same:
      req.tried.erase(key);
      self->delayed_send(self, std::chrono::microseconds{plan.delay_us},
                         next_attempt_atom::value, id, plan.delay_us, jitter);
      return;
  }
}

caf::behavior gateway(gateway_actor* self, gateway_config cfg) {
  auto& st = self->state;
  if (!from_string(cfg.route.strategy, st.strategy))
    st.strategy = route_strategy::fallback; // the scenario parser checked it
  st.hedge = cfg.hedge;
  st.hedge.enabled = cfg.route.hedge_quantile > 0;
  st.hedge.quantile = cfg.route.hedge_quantile;
  cfg.retries.max_attempts = cfg.route.max_attempts;
  st.cfg = std::move(cfg);
  return {
    [=](complete_atom, model_call& call) -> caf::result<model_response> {
      auto& st = self->state;
      auto id = st.next_id++;
      auto& req = st.requests[id];
      req.promise = self->make_response_promise();
      req.call = std::move(call);
      route_request(self, req);
      start_attempt(self, id, 0, 0, false);
      return caf::delegated<model_response>{};
    },
    [=](attempt_done_atom, uint64_t id, size_t index, model_response& r) {
      attempt_done(self, id, index, std::move(r));
    },
    [=](hedge_atom, uint64_t id, size_t index) {
      auto i = self->state.requests.find(id);
      if (i == self->state.requests.end())
        return;
      // Hedge only an attempt that has not begun to answer: a reply already
      // streaming is not worth sending twice.
      auto& live = i->second.live;
      bool still_waiting = std::any_of(live.begin(), live.end(), [&](auto& l) {
        return l.index == index && !l.exchange->answering();
      });
      if (still_waiting && live.size() == 1)
        start_attempt(self, id, 0, 0, true);
    },
    [=](next_attempt_atom, uint64_t id, int64_t delay_us, double jitter) {
      start_attempt(self, id, delay_us, jitter, false);
    },
    [=](cancel_atom, const std::string& run_id) {
      std::vector<uint64_t> ids;
      for (auto& [id, req] : self->state.requests)
        if (req.call.run_id == run_id)
          ids.push_back(id);
      for (auto id : ids) {
        auto& req = self->state.requests.at(id);
        for (auto& l : req.live)
          req.attempts[l.index].outcome = "canceled";
        deliver(self, id, failure(model_failure::canceled, "the run was canceled"));
      }
    },
  };
}

} // namespace

caf::actor spawn_model_gateway(caf::actor_system& sys, gateway_config cfg) {
  return sys.spawn(gateway, std::move(cfg));
}

} // namespace troupe
