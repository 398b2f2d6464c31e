// The run supervisor's delegated children (the protocol is in
// actors/run_supervisor.hpp, `delegate_atom`): a parent asks for the child of
// a delegation it journaled, and hears how the child ended.
//
// The journal decides what "the child" is, because a crash may have come
// anywhere: before the child's run_start (start it), while it ran (continue
// it from its journal) or after it ended (answer its journaled end). All I/O
// happens in the journal actor, so the supervisor never blocks.

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/detail/supervisor_state.hpp"
#include "core/run_rebuild.hpp"
#include "core/runtime_errc.hpp"
#include "persistence/store_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

using child_promise = caf::typed_response_promise<run_result>;

// Puts the child in flight here and makes the parent wait for its end.
void run_child(supervisor_actor* self, run_spec spec, run_wiring wiring, child_promise parent) {
  auto& st = self->state;
  auto id = spec.run_id;
  static_cast<void>(admit(self, spec, std::move(wiring)));
  auto& entry = st.runs.at(id);
  entry.waiters.push_back(parent);
  entry.cancel_on_launch = st.canceled_while_attaching.erase(id) > 0 || st.shutting_down;
  st.attaching.erase(id);
  launch(self, id, std::move(spec));
}

// The journal said the child cannot run here: the parent hears why.
void refuse(supervisor_actor* self, const std::string& id, child_promise parent,
            caf::error err) {
  self->state.attaching.erase(id);
  self->state.canceled_while_attaching.erase(id);
  parent.deliver(std::move(err));
}

void start_child(supervisor_actor* self, const child_order& order, child_promise parent) {
  auto& cfg = self->state.cfg;
  auto made = cfg.make_child ? cfg.make_child(order)
                             : caf::make_error(runtime_errc::invalid_arguments,
                                               "this supervisor starts no delegated children");
  if (!made) {
    refuse(self, order.child.child_run_id, parent, made.error());
    return;
  }
  made->spec.run_id = order.child.child_run_id;
  made->spec.parent_run_id = order.parent_run_id;
  made->spec.root_run_id = order.root_run_id;
  run_child(self, std::move(made->spec), std::move(made->wiring), parent);
}

// The child's events are ours now: continue it like a resumed run.
void continue_child(supervisor_actor* self, rebuilt_run journal, child_promise parent) {
  auto spec = spec_from_journal(std::move(journal));
  auto& cfg = self->state.cfg;
  auto wiring = cfg.wire ? cfg.wire(spec)
                         : caf::make_error(runtime_errc::invalid_arguments,
                                           "this supervisor wires no resumed runs");
  if (!wiring) {
    refuse(self, spec.run_id, parent, wiring.error());
    return;
  }
  spdlog::info("run {}: continuing the child {} from its journal", spec.parent_run_id,
               spec.run_id);
  run_child(self, std::move(spec), std::move(*wiring), parent);
}

// How a child that ended before a crash ended, from its journal.
void answer_ended(supervisor_actor* self, const std::string& id, child_promise parent) {
  self->request(self->state.cfg.journal, caf::infinite, read_atom::value, id)
    .then(
      [=](rebuilt_run& journal) mutable {
        auto r = result_of(fold_tail(std::move(journal)));
        r.run_id = id;
        self->state.finished[id] = r;
        self->state.attaching.erase(id);
        self->state.canceled_while_attaching.erase(id);
        parent.deliver(r);
      },
      [=](caf::error& err) mutable { refuse(self, id, parent, std::move(err)); });
}

} // namespace

caf::result<run_result> child_of(supervisor_actor* self, child_order order) {
  auto& st = self->state;
  const auto id = order.child.child_run_id;
  auto parent = self->make_response_promise<run_result>();
  if (auto i = st.runs.find(id); i != st.runs.end()) {
    i->second.waiters.push_back(parent);
    return parent;
  }
  if (auto i = st.finished.find(id); i != st.finished.end())
    return i->second;
  if (st.shutting_down)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "the runtime is shutting down; child " + id + " was not started");
  st.attaching.insert(id);
  self->request(st.cfg.journal, caf::infinite, claim_atom::value, id)
    .then(
      [=]() mutable {
        self->request(self->state.cfg.journal, caf::infinite, read_atom::value, id)
          .then([=](rebuilt_run& journal) mutable {
                  continue_child(self, std::move(journal), parent);
                },
                [=](caf::error& err) mutable { refuse(self, id, parent, std::move(err)); });
      },
      [=](caf::error& err) mutable {
        if (err == persistence::store_errc::unknown_run)
          start_child(self, order, parent);
        else if (err == persistence::store_errc::run_finished)
          answer_ended(self, id, parent);
        else
          refuse(self, id, parent, std::move(err));
      });
  return parent;
}

} // namespace troupe::detail
