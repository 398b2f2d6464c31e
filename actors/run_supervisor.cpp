// The run supervisor's admission, ends and crash handling (the protocol is in
// actors/run_supervisor.hpp; resume is in actors/run_resume.cpp).

#include "actors/run_supervisor.hpp"

#include <cstdio>
#include <random>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/detail/supervisor_state.hpp"
#include "actors/messages.hpp"
#include "core/run_state.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace detail {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

// Owner callbacks run on a one-shot actor: an owner may call back into the
// facade, which asks this supervisor and would wait for itself.
void tell_owner(supervisor_actor* self, std::function<void(const run_result&)> on_done,
                run_result r) {
  if (on_done)
    // The result travels as a spawn argument: CAF 0.17's init_fun_factory
    // dereferences a null argument tuple for a function without arguments
    // (UBSan reports it).
    self->spawn([on_done = std::move(on_done)](const run_result& x) { on_done(x); },
                std::move(r));
}

// The one place a run leaves the supervisor: its on_done reported the end.
void on_run_end(supervisor_actor* self, const run_result& r) {
  auto& st = self->state;
  auto i = st.runs.find(r.run_id);
  if (i == st.runs.end())
    return;
  auto result = std::move(i->second.result);
  auto waiters = std::move(i->second.waiters);
  st.runs.erase(i);
  st.finished[r.run_id] = r;
  result->set_value(r);
  for (auto& parent : waiters)
    parent.deliver(r);
  if (auto next = st.gate.release(r.run_id)) {
    auto& entry = st.runs.at(*next);
    auto spec = entry.launch.spec;
    spec.resumed = std::move(entry.waiting);
    launch(self, *next, std::move(spec));
  }
  finish_shutdown_if_idle(self);
}

// Gives up on a run that keeps crashing: journals its end and tells its
// owner. Without a readable journal its totals are unknown, and it says so.
void fail_run(supervisor_actor* self, const std::string& run_id,
              caf::expected<rebuilt_run> journal, std::string why) {
  auto& entry = self->state.runs.at(run_id);
  entry.giving_up = true;
  auto wiring = entry.launch.wiring;
  run_state st;
  if (journal) {
    st = fold_tail(std::move(*journal));
  } else {
    why += "; its totals are unknown: the journal could not be read: "
           + render(journal.error());
  }
  completion done;
  done.status = run_status::failed;
  done.reason = "restart_intensity_exceeded";
  done.summary = why;
  done.totals = st.totals;
  event ev;
  ev.run_id = run_id;
  ev.parent_run_id = entry.launch.spec.parent_run_id;
  // As the run's own events have it: empty for a top-level run.
  auto& root = entry.launch.spec.root_run_id;
  ev.root_run_id = root == run_id ? std::string{} : root;
  ev.ts_us = wiring.clock ? wiring.clock() : system_clock_us();
  ev.body = done;
  run_result r{run_id, run_status::failed, "", why, done.reason, st.totals};
  spdlog::error("run {}: {}", run_id, why);
  self->request(self->state.cfg.journal, caf::infinite, append_atom::value, durable_atom::value,
                encode(ev))
    .then([=](uint32_t) { tell_owner(self, wiring.on_done, r); },
          [=](caf::error& err) {
            auto refused = r;
            refused.summary += "; the journal refused the failure: " + render(err);
            tell_owner(self, wiring.on_done, refused);
          });
}

// The journal is the truth after a crash: the run restarts from what it
// journaled (its latest checkpoint and the events after it), through the
// same reader resume uses.
void restart(supervisor_actor* self, const std::string& run_id) {
  if (self->state.runs.count(run_id) == 0)
    return;
  self->request(self->state.cfg.journal, caf::infinite, read_atom::value, run_id)
    .then(
      [=](rebuilt_run& journal) {
        spdlog::warn("run {}: restarting from {} journaled events", run_id, journal.events);
        launch(self, run_id, spec_from_journal(std::move(journal)));
      },
      [=](caf::error& err) { fail_run(self, run_id, std::move(err), "cannot restart"); });
}

void on_down(supervisor_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.by_actor.find(dm.source);
  if (i == st.by_actor.end())
    return;
  auto run_id = i->second;
  st.by_actor.erase(i);
  auto e = st.runs.find(run_id);
  if (e == st.runs.end() || !dm.reason || dm.reason == caf::exit_reason::normal)
    return; // ended; its on_done reported it (or is about to)
  auto& entry = e->second;
  entry.current = nullptr;
  if (entry.giving_up)
    return;
  auto now = supervisor_clock::now();
  entry.crashes.push_back(now);
  const auto& policy = st.cfg.restarts;
  while (!entry.crashes.empty() && now - entry.crashes.front() > policy.window)
    entry.crashes.pop_front();
  if (entry.crashes.size() > policy.max_restarts) {
    auto why = "run crashed " + std::to_string(entry.crashes.size()) + " times within "
               + std::to_string(policy.window.count()) + " ms (last: " + render(dm.reason)
               + "); restart intensity exceeded";
    entry.giving_up = true;
    self->request(st.cfg.journal, caf::infinite, read_atom::value, run_id)
      .then([=](rebuilt_run& journal) { fail_run(self, run_id, std::move(journal), why); },
            [=](caf::error& err) { fail_run(self, run_id, std::move(err), why); });
    return;
  }
  entry.backoff = entry.backoff.count() == 0 ? policy.initial_backoff
                                             : std::min(entry.backoff * 2, policy.max_backoff);
  spdlog::warn("run {}: crashed ({}); restart in {} ms", run_id, render(dm.reason),
               entry.backoff.count());
  self->delayed_send(self, entry.backoff, restart_atom::value, run_id);
}

caf::result<run_ticket> start_new(supervisor_actor* self, run_launch& l) {
  auto& st = self->state;
  if (st.shutting_down)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "start: the runtime is shutting down; the run was not started");
  if (l.spec.run_id.empty())
    l.spec.run_id = st.cfg.id_prefix + "-" + std::to_string(++st.last_id);
  else if (st.runs.count(l.spec.run_id) > 0 || st.finished.count(l.spec.run_id) > 0)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "start: run id '" + l.spec.run_id + "' is taken");
  auto ticket = admit(self, l.spec, std::move(l.wiring));
  launch(self, ticket.run_id, std::move(l.spec));
  return ticket;
}

caf::result<void> shutdown(supervisor_actor* self) {
  auto& st = self->state;
  st.shutting_down = true;
  for (auto& run_id : st.gate.drop_waiting())
    drop_unstarted(self, run_id);
  for (auto& [run_id, entry] : st.runs) {
    if (entry.current)
      self->send(entry.current, cancel_atom::value);
    else
      entry.cancel_on_launch = true;
  }
  if (st.runs.empty() && st.resuming.empty())
    return caf::unit;
  auto rp = self->make_response_promise();
  st.shutdown_waiters.push_back(rp);
  return rp;
}

caf::behavior run_supervisor(supervisor_actor* self, supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if (st.cfg.id_prefix.empty())
    st.cfg.id_prefix = make_run_id_prefix();
  st.gate = resume_gate{st.cfg.resume_concurrency};
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  return {
    [=](start_atom, run_launch& l) { return start_new(self, l); },
    [=](resume_atom, resume_order& order) { return resume(self, std::move(order)); },
    [=](done_atom, const run_result& r) { on_run_end(self, r); },
    [=](restart_atom, const std::string& run_id) { restart(self, run_id); },
    [=](delegate_atom, child_order& order) { return child_of(self, std::move(order)); },
    [=](cancel_atom, const std::string& run_id) -> bool {
      auto& st = self->state;
      if (st.attaching.count(run_id) > 0) {
        st.canceled_while_attaching.insert(run_id); // canceled when it launches
        return true;
      }
      auto i = st.runs.find(run_id);
      if (i == st.runs.end())
        return false;
      if (i->second.current)
        self->send(i->second.current, cancel_atom::value);
      else
        i->second.cancel_on_launch = true; // after a crash, or waiting for a slot
      return true;
    },
    [=](caf::get_atom, const std::string& run_id) -> std::optional<run_result> {
      auto i = self->state.finished.find(run_id);
      if (i == self->state.finished.end())
        return std::nullopt;
      return i->second;
    },
    [=](shutdown_atom) { return shutdown(self); },
  };
}

} // namespace

run_ticket admit(supervisor_actor* self, const run_spec& spec, run_wiring wiring) {
  auto& entry = self->state.runs[spec.run_id];
  entry.result = std::make_shared<std::promise<run_result>>();
  auto owner_done = std::move(wiring.on_done);
  // A weak address: the runs' wiring must not keep their supervisor alive.
  wiring.on_done = [owner_done, sup = self->address()](const run_result& r) {
    if (owner_done)
      owner_done(r);
    if (auto s = caf::actor_cast<caf::actor>(sup))
      caf::anon_send(s, done_atom::value, r);
  };
  wiring.supervisor = self->address();
  entry.launch.spec = spec; // shares the journal read back, if any; dropped here:
  entry.launch.spec.resumed.reset(); // a restart reads the journal again
  entry.launch.wiring = std::move(wiring);
  return {spec.run_id, entry.result->get_future().share()};
}

void launch(supervisor_actor* self, const std::string& run_id, run_spec spec) {
  auto& entry = self->state.runs.at(run_id);
  auto a = spawn_run(self->system(), std::move(spec), entry.launch.wiring);
  self->monitor(a);
  self->state.by_actor[a.address()] = run_id;
  entry.current = a;
  if (entry.cancel_on_launch)
    self->send(a, cancel_atom::value);
}

void finish_shutdown_if_idle(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.shutting_down || !st.runs.empty() || !st.resuming.empty())
    return;
  for (auto& rp : st.shutdown_waiters)
    rp.deliver(caf::unit);
  st.shutdown_waiters.clear();
}

void drop_unstarted(supervisor_actor* self, const std::string& run_id) {
  auto& st = self->state;
  auto i = st.runs.find(run_id);
  if (i == st.runs.end())
    return;
  run_result r;
  r.run_id = run_id;
  r.status = run_status::running;
  r.reason = "not_resumed";
  r.summary = "the runtime shut down before the run could resume; it stays unfinished in "
              "the journal for the next resume";
  i->second.result->set_value(r);
  st.runs.erase(i);
}

} // namespace detail

std::string make_run_id_prefix() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "r%llx-%04x",
                static_cast<unsigned long long>(system_clock_us() / 1000),
                static_cast<unsigned>(rd() & 0xffff));
  return buf;
}

caf::actor spawn_run_supervisor(caf::actor_system& sys, supervisor_config cfg) {
  return sys.spawn(detail::run_supervisor, std::move(cfg));
}

} // namespace troupe
