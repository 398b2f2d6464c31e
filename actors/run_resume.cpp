// The run supervisor's resume: which of the journal's unfinished runs this
// process continues, the errors for those it cannot, and the resume gate
// (the protocol is in actors/run_supervisor.hpp).
//
// Runs are taken one at a time, in the order they began: claim through the
// journal, read back from the latest checkpoint (the journal's run reader,
// actors/run_reader.hpp), wire, admit.
// All I/O happens in the journal actor, so the supervisor never blocks.

#include <memory>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/detail/supervisor_state.hpp"
#include "core/runtime_errc.hpp"
#include "persistence/store_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

struct resume_job {
  resume_order order;
  std::vector<std::string> runs; ///< taken on, in journal order
  size_t next = 0;
  resume_outcomes outcomes;
  caf::typed_response_promise<resume_outcomes> promise;
};

using job_ptr = std::shared_ptr<resume_job>;

// A run another live process drives, or one that ended since it was listed,
// is not this process's to continue: skipped, not an error.
bool not_ours(const caf::error& err) {
  return err == persistence::store_errc::run_owned
         || err == persistence::store_errc::run_finished;
}

// The wiring error names what is missing (the facade's words); this names
// the run. Code and category stay the wiring error's.
caf::error cannot_resume(const std::string& run_id, const caf::error& why) {
  return caf::error{why.code(), why.category(),
                    caf::make_message("run " + run_id + " cannot resume: " + render(why))};
}

// A claimed run read back from its latest checkpoint: wired and admitted, or
// the reason not.
caf::expected<run_ticket> take_on(supervisor_actor* self, const resume_order& order,
                                  const std::string& run_id, rebuilt_run journal) {
  auto& st = self->state;
  auto spec = spec_from_journal(std::move(journal));
  auto wiring = st.cfg.wire ? st.cfg.wire(spec)
                            : caf::make_error(runtime_errc::invalid_arguments,
                                              "this supervisor wires no resumed runs");
  if (!wiring)
    return cannot_resume(run_id, wiring.error());
  wiring->on_done = order.on_done;
  auto ticket = admit(self, spec, std::move(*wiring));
  // Listed although a child: its parent ended (the journal lists children of
  // unfinished parents through them), so nobody waits for it any more.
  if (!spec.parent_run_id.empty()) {
    spdlog::info("resume: run {} is a child of the ended run {}; it is canceled", run_id,
                 spec.parent_run_id);
    st.runs.at(run_id).cancel_on_launch = true;
  }
  if (st.shutting_down)
    drop_unstarted(self, run_id);
  else if (st.gate.admit(run_id))
    launch(self, run_id, std::move(spec));
  else
    st.runs.at(run_id).waiting = std::move(spec.resumed);
  return ticket;
}

void next_run(supervisor_actor* self, job_ptr job);

// `outcome` is empty for a run skipped without an error.
void decided(supervisor_actor* self, job_ptr job, const std::string& run_id,
             std::optional<caf::expected<run_ticket>> outcome) {
  if (outcome)
    job->outcomes.push_back(std::move(*outcome));
  self->state.resuming.erase(run_id);
  finish_shutdown_if_idle(self);
  next_run(self, std::move(job));
}

void next_run(supervisor_actor* self, job_ptr job) {
  if (job->next == job->runs.size()) {
    job->promise.deliver(std::move(job->outcomes));
    return;
  }
  auto run_id = job->runs[job->next++];
  const auto& journal = self->state.cfg.journal;
  // Claim before reading: once it is ours, no other process adds to it.
  self->request(journal, caf::infinite, claim_atom::value, run_id)
    .then(
      [=] {
        self->request(self->state.cfg.journal, caf::infinite, read_atom::value, run_id)
          .then(
            [=](rebuilt_run& journal) {
              decided(self, job, run_id, take_on(self, job->order, run_id, std::move(journal)));
            },
            [=](caf::error& err) {
              decided(self, job, run_id, caf::expected<run_ticket>{std::move(err)});
            });
      },
      [=](caf::error& err) {
        if (not_ours(err)) {
          spdlog::info("resume: {}", render(err));
          decided(self, job, run_id, std::nullopt);
          return;
        }
        decided(self, job, run_id, caf::expected<run_ticket>{std::move(err)});
      });
}

} // namespace

caf::result<resume_outcomes> resume(supervisor_actor* self, resume_order order) {
  auto job = std::make_shared<resume_job>();
  job->order = std::move(order);
  job->promise = self->make_response_promise<resume_outcomes>();
  self->request(self->state.cfg.journal, caf::infinite, unfinished_atom::value)
    .then(
      [=](std::vector<std::string>& unfinished) {
        auto& st = self->state;
        // Runs in flight here (or taken on by another resume) are left alone.
        for (auto& run_id : unfinished)
          if (st.runs.count(run_id) == 0 && st.resuming.insert(run_id).second)
            job->runs.push_back(run_id);
        next_run(self, job);
      },
      [=](caf::error& err) {
        job->promise.deliver(resume_outcomes{caf::expected<run_ticket>{std::move(err)}});
      });
  return job->promise;
}

} // namespace troupe::detail
