#pragma once
// The run supervisor's state and the steps its handlers share
// (actors/run_supervisor.cpp: admission, ends, crashes; actors/run_resume.cpp:
// resume). Internal to actors/.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/run_supervisor.hpp"
#include "core/run_admission.hpp"

namespace troupe::detail {

using done_atom = caf::atom_constant<caf::atom("done")>;
using supervisor_clock = std::chrono::steady_clock;

/// A run in flight: started, between a crash and its restart, or (resumed)
/// waiting for a slot of the resume gate.
struct supervised_run {
  caf::actor current; ///< null while it is not running
  /// Spec without the journal read back (the journal is the truth after a
  /// crash), and the wiring whose on_done reports to the supervisor.
  run_launch launch;
  /// A resumed run waiting for its slot: what it starts from.
  std::shared_ptr<rebuilt_run> waiting;
  std::shared_ptr<std::promise<run_result>> result;
  std::deque<supervisor_clock::time_point> crashes;
  std::chrono::milliseconds backoff{0};
  /// Parents waiting for this run's end (it is their delegation's child).
  std::vector<caf::typed_response_promise<run_result>> waiters;
  bool cancel_on_launch = false; ///< a cancel arrived while it was not running
  bool giving_up = false;        ///< its failure is being journaled; no restart
};

struct supervisor_state {
  static inline const char* name = "troupe.run_supervisor";
  supervisor_config cfg;
  resume_gate gate{1};
  uint64_t last_id = 0;
  std::map<std::string, supervised_run> runs;
  std::map<caf::actor_addr, std::string> by_actor;
  /// Runs a resume in progress took on and has not decided yet.
  std::set<std::string> resuming;
  /// Children a parent asked for that are not in flight yet (the journal is
  /// deciding what they are), and those of them canceled meanwhile.
  std::set<std::string> attaching;
  std::set<std::string> canceled_while_attaching;
  std::map<std::string, run_result> finished;
  bool shutting_down = false;
  std::vector<caf::response_promise> shutdown_waiters;
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

/// Puts `spec` in flight (not yet running) with `wiring`, whose on_done then
/// reports to the supervisor, and returns its ticket.
[[nodiscard]] run_ticket admit(supervisor_actor* self, const run_spec& spec, run_wiring wiring);

/// Spawns and monitors run `run_id` (in flight) from `spec`.
void launch(supervisor_actor* self, const std::string& run_id, run_spec spec);

/// Ends a run that never ran (shutdown came first): its future holds status
/// running, reason `not_resumed`; the journal still has it unfinished.
void drop_unstarted(supervisor_actor* self, const std::string& run_id);

/// Answers the shutdown requests once no run is in flight or being resumed.
void finish_shutdown_if_idle(supervisor_actor* self);

/// The delegate_atom handler: the child of a parent's journaled delegation,
/// started, found in flight, or read back from the journal (actors/run_children.cpp).
[[nodiscard]] caf::result<run_result> child_of(supervisor_actor* self, child_order order);

/// Continues the journal's unfinished runs (the resume_atom handler).
[[nodiscard]] caf::result<resume_outcomes> resume(supervisor_actor* self, resume_order order);

} // namespace troupe::detail
