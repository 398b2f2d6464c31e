#include "actors/approvals.hpp"

#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/run.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using poll_atom = caf::atom_constant<caf::atom("poll")>;

struct waiter {
  caf::typed_response_promise<approval_decision> promise;
  int64_t deadline_us = 0;
};

struct approvals_state {
  static inline const char* name = "troupe.approvals";
  approvals_config cfg;
  std::shared_ptr<persistence::approval_store> store;
  std::map<std::pair<std::string, std::string>, waiter> waiting;
  bool polling = false;
};

using approvals_actor = caf::stateful_actor<approvals_state>;

approval_decision decision_of(const persistence::approval_row& r) {
  return approval_decision{r.call_id, r.status == persistence::approval_status::approved,
                           r.decided_by, r.reason};
}

void deliver(approvals_actor* self, const persistence::approval_row& r) {
  auto i = self->state.waiting.find({r.run_id, r.call_id});
  if (i == self->state.waiting.end())
    return;
  i->second.promise.deliver(decision_of(r));
  self->state.waiting.erase(i);
}

void arm(approvals_actor* self) {
  auto& st = self->state;
  if (!st.polling && !st.waiting.empty()) {
    st.polling = true;
    self->delayed_send(self, st.cfg.poll_interval, poll_atom::value);
  }
}

// Decisions made elsewhere appear in the table; deadlines fail closed.
void poll(approvals_actor* self) {
  auto& st = self->state;
  st.polling = false;
  if (auto expired = st.store->expire(st.cfg.clock())) {
    for (auto& r : *expired) {
      spdlog::warn("approval for run {} call {} timed out: denied", r.run_id, r.call_id);
      deliver(self, r);
    }
  } else {
    spdlog::error("approvals: {}", render(expired.error()));
  }
  std::vector<std::pair<std::string, std::string>> keys;
  for (auto& kv : st.waiting)
    keys.push_back(kv.first);
  for (auto& [run, call] : keys) {
    auto row = st.store->find(run, call);
    if (row && *row && (*row)->status != persistence::approval_status::pending)
      deliver(self, **row);
  }
  arm(self);
}

caf::behavior approvals(approvals_actor* self, approvals_config cfg,
                        std::shared_ptr<persistence::approval_store> store) {
  self->state.cfg = std::move(cfg);
  self->state.store = std::move(store);
  return {
    [=](approval_atom, approval_ticket& t) -> caf::result<approval_decision> {
      auto& st = self->state;
      auto& req = t.request;
      persistence::approval_row row;
      row.run_id = t.run_id;
      row.call_id = req.call_id;
      row.tool = req.tool;
      row.args_json = req.args_json;
      row.rule = req.rule;
      row.requested_us = st.cfg.clock();
      row.deadline_us = req.deadline_us;
      auto stored = st.store->request(row);
      if (!stored) // fail closed: an approval that cannot be recorded is a no
        return approval_decision{req.call_id, false, "troupe",
                                 "the approval could not be recorded: "
                                   + render(stored.error())};
      if (stored->status != persistence::approval_status::pending)
        return decision_of(*stored); // decided while the run was down
      if (st.cfg.on_requested)
        st.cfg.on_requested(*stored);
      auto rp = self->make_response_promise<approval_decision>();
      st.waiting[{t.run_id, req.call_id}] = waiter{rp, req.deadline_us};
      arm(self);
      return rp;
    },
    [=](poll_atom) { poll(self); },
  };
}

} // namespace

caf::expected<caf::actor> spawn_approvals(caf::actor_system& sys, approvals_config cfg) {
  auto store = persistence::approval_store::open(cfg.db_path);
  if (!store)
    return std::move(store.error());
  if (!cfg.clock)
    cfg.clock = system_clock_us;
  return sys.spawn<caf::detached>(
    approvals, std::move(cfg),
    std::make_shared<persistence::approval_store>(std::move(*store)));
}

} // namespace troupe
