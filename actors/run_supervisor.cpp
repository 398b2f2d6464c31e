#include "actors/run_supervisor.hpp"

#include <deque>
#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "core/run_state.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using clock_type = std::chrono::steady_clock;

struct supervised_run {
  caf::actor current;
  run_launch launch; ///< spec without history: the journal is the truth
  std::deque<clock_type::time_point> crashes;
  std::chrono::milliseconds backoff{0};
  bool cancel_on_launch = false; ///< a cancel arrived while it was down
};

struct supervisor_state {
  static inline const char* name = "troupe.run_supervisor";
  caf::actor journal;
  restart_policy policy;
  std::map<std::string, supervised_run> runs;
  std::map<caf::actor_addr, std::string> by_actor;
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void launch(supervisor_actor* self, const std::string& run_id, run_spec spec) {
  auto& entry = self->state.runs.at(run_id);
  auto a = spawn_run(self->system(), std::move(spec), entry.launch.wiring);
  self->monitor(a);
  self->state.by_actor[a.address()] = run_id;
  entry.current = a;
  if (entry.cancel_on_launch)
    self->send(a, cancel_atom::value);
}

// The journal verified these rows before sending them (run_loader); one that
// still does not decode is an error naming the run and the seq, never a
// shorter history: a restart or a failure's totals built from part of a run
// would be wrong without saying so.
caf::expected<std::vector<event>> decode_history(const std::string& run_id,
                                                 const std::vector<event_bytes>& rows) {
  std::vector<event> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    auto ev = decode(rows[i], "run " + run_id + " seq " + std::to_string(i + 1));
    if (!ev)
      return std::move(ev.error());
    out.push_back(std::move(*ev));
  }
  return out;
}

// Gives up on a run that keeps crashing: journals its end and tells its owner.
void fail_run(supervisor_actor* self, const std::string& run_id,
              std::vector<event> history, const std::string& why) {
  auto& entry = self->state.runs.at(run_id);
  auto wiring = entry.launch.wiring;
  run_state st;
  for (auto& ev : history)
    apply(st, ev);
  completion done;
  done.status = run_status::failed;
  done.reason = "restart_intensity_exceeded";
  done.summary = why;
  done.totals = st.totals;
  event ev;
  ev.run_id = run_id;
  ev.parent_run_id = entry.launch.spec.parent_run_id;
  ev.root_run_id = entry.launch.spec.root_run_id.empty() ? run_id
                                                         : entry.launch.spec.root_run_id;
  ev.ts_us = wiring.clock ? wiring.clock() : system_clock_us();
  ev.body = done;
  run_result r{run_id, run_status::failed, "", why, done.reason, st.totals};
  spdlog::error("run {}: {}", run_id, why);
  self->state.runs.erase(run_id);
  self->request(self->state.journal, caf::infinite, append_atom::value,
                durable_atom::value, encode(ev))
    .then(
      [=](uint32_t) {
        if (wiring.on_done)
          wiring.on_done(r);
      },
      [=](caf::error& err) {
        auto r2 = r;
        r2.summary += "; the journal refused the failure: " + render(err);
        if (wiring.on_done)
          wiring.on_done(r2);
      });
}

void restart(supervisor_actor* self, const std::string& run_id) {
  if (self->state.runs.count(run_id) == 0)
    return;
  self->request(self->state.journal, caf::infinite, read_atom::value, run_id)
    .then(
      [=](std::vector<event_bytes>& rows) {
        auto history = decode_history(run_id, rows);
        auto spec = history ? spec_from_history(std::move(*history))
                            : caf::expected<run_spec>{std::move(history.error())};
        if (!spec) {
          fail_run(self, run_id, {}, "cannot restart: " + render(spec.error()));
          return;
        }
        spdlog::warn("run {}: restarting from {} journaled events", run_id,
                     spec->history.size());
        launch(self, run_id, std::move(*spec));
      },
      [=](caf::error& err) {
        fail_run(self, run_id, {}, "cannot read the journal to restart: " + render(err));
      });
}

void on_down(supervisor_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.by_actor.find(dm.source);
  if (i == st.by_actor.end())
    return;
  auto run_id = i->second;
  st.by_actor.erase(i);
  auto e = st.runs.find(run_id);
  if (e == st.runs.end())
    return;
  if (!dm.reason || dm.reason == caf::exit_reason::normal) {
    st.runs.erase(e); // finished; on_done already ran
    return;
  }
  auto& entry = e->second;
  entry.current = nullptr;
  auto now = clock_type::now();
  entry.crashes.push_back(now);
  while (!entry.crashes.empty() && now - entry.crashes.front() > st.policy.window)
    entry.crashes.pop_front();
  if (entry.crashes.size() > st.policy.max_restarts) {
    auto why = "run crashed " + std::to_string(entry.crashes.size()) + " times within "
               + std::to_string(st.policy.window.count()) + " ms (last: "
               + render(dm.reason) + "); restart intensity exceeded";
    self->request(st.journal, caf::infinite, read_atom::value, run_id)
      .then(
        [=](std::vector<event_bytes>& rows) {
          auto history = decode_history(run_id, rows);
          if (!history) {
            fail_run(self, run_id, {},
                     why + "; its totals are unknown: " + render(history.error()));
            return;
          }
          fail_run(self, run_id, std::move(*history), why);
        },
        [=](caf::error& err) {
          fail_run(self, run_id, {},
                   why + "; its totals are unknown: the journal could not be read: "
                     + render(err));
        });
    return;
  }
  entry.backoff = entry.backoff.count() == 0
                    ? st.policy.initial_backoff
                    : std::min(entry.backoff * 2, st.policy.max_backoff);
  spdlog::warn("run {}: crashed ({}); restart in {} ms", run_id, render(dm.reason),
               entry.backoff.count());
  self->delayed_send(self, entry.backoff, restart_atom::value, run_id);
}

caf::behavior run_supervisor(supervisor_actor* self, caf::actor journal,
                             restart_policy policy) {
  self->state.journal = std::move(journal);
  self->state.policy = policy;
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  return {
    [=](start_atom, run_launch& l) {
      auto run_id = l.spec.run_id;
      auto spec = std::move(l.spec);
      auto& entry = self->state.runs[run_id];
      entry.launch.spec = spec;
      entry.launch.spec.history.clear();
      entry.launch.wiring = std::move(l.wiring);
      launch(self, run_id, std::move(spec));
    },
    [=](restart_atom, const std::string& run_id) { restart(self, run_id); },
    [=](cancel_atom, const std::string& run_id) -> bool {
      auto i = self->state.runs.find(run_id);
      if (i == self->state.runs.end())
        return false;
      if (i->second.current)
        self->send(i->second.current, cancel_atom::value);
      else
        i->second.cancel_on_launch = true; // between a crash and its restart
      return true;
    },
  };
}

} // namespace

caf::actor spawn_run_supervisor(caf::actor_system& sys, caf::actor journal,
                                restart_policy policy) {
  return sys.spawn(run_supervisor, std::move(journal), policy);
}

} // namespace troupe
