#pragma once
// The run supervisor: root of the run trees. It admits runs and gives them
// their ids, continues the journal's unfinished runs (resume), restarts runs
// that crash, and knows which runs are in flight and how those that ended
// ended. The embedding facade (troupe/runtime.hpp) only forwards to it.
//
// Protocol (local only: the messages carry std::function and futures):
//
//   (start_atom, run_launch)          -> run_ticket
//       Admits a new run: gives it the next id of this process
//       (`<prefix>-<n>`, unique across processes sharing a journal) unless
//       the caller chose one in `spec.run_id` (refused when a run of that id
//       is known here; new to the journal is the caller's promise), starts
//       it, and answers its id and a future of its result. New runs do not
//       count against the resume cap.
//   (resume_atom, resume_order)       -> resume_outcomes
//       Continues the journal's unfinished runs, in the order they began,
//       once all are decided; one outcome per run it took on. Runs already
//       in flight here are left alone. For each other run: claim it through
//       the journal (a run another live process drives, or one that ended
//       meanwhile, is skipped with a log line and no outcome; any other
//       refusal is the run's outcome), load its verified events (the
//       journal's run loader: a damaged row is the run's outcome, naming its
//       seq), rebuild its spec, and wire it (`supervisor_config::wire`: an
//       error is the outcome, "run <id> cannot resume: ..."). A wired run is
//       admitted through the resume gate (core/run_admission.hpp): at most
//       `resume_concurrency` resumed runs alive at once, the others start in
//       order as slots free. Runs that cannot resume stay unfinished in the
//       journal; nothing is written for them.
//   (cancel_atom, std::string run_id) -> bool
//       Asks the run to stop (it journals `canceled` at its next step
//       boundary); a run between a crash and its restart, or waiting for a
//       resume slot, is canceled once it starts. False when no such run is in
//       flight here.
//   (get_atom, std::string run_id)    -> std::optional<run_result>
//       How a run this supervisor saw end ended.
//   (delegate_atom, child_order)      -> run_result
//       A parent's child, once it ended. The parent journaled the delegation
//       first, so the child's id is known and stable across crashes: a child
//       in flight here is waited for; otherwise the journal decides (claim):
//       a child that ended is read back and its end answered at once, an
//       unfinished one is continued like a resumed run, and one the journal
//       does not have is started (`supervisor_config::make_child`). Children
//       bypass the resume gate: their tree holds a slot already, and waiting
//       behind it could deadlock. Errors (the child cannot be wired, another
//       process drives it) answer the parent, which shows them to its model.
//   (shutdown_atom)                   -> caf::unit
//       Cancels every run in flight and answers once each journaled its end.
//       Resumed runs still waiting for a slot are not started: they stay
//       unfinished in the journal, and their futures hold status `running`,
//       reason `not_resumed`. Admit nothing after this.
//
// Ends: every run's wiring gets an `on_done` that calls the owner's and then
// reports to the supervisor, which records the result and fulfils the run's
// future, in that order; `get_atom` and `cancel_atom` reflect the end from
// the moment the future is ready.
//
// Supervision: the supervisor monitors every run. A run that ends normally
// is forgotten; one that crashes (an exception escaping a handler, e.g. from
// an embedder's callback) is restarted from its journal after an exponential
// backoff. More than `max_restarts` crashes within `window` end the run
// `failed` (reason restart_intensity_exceeded), journaled, with its totals
// folded from the journal; when the journal cannot be read, the summary says
// so and why. Owner callbacks the supervisor itself calls run on a one-shot
// actor, never inside a supervisor handler, so they may call back into the
// facade.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>

#include "actors/run.hpp"
#include "core/run_result.hpp"

namespace troupe {

using resume_atom = caf::atom_constant<caf::atom("resume")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

struct restart_policy {
  uint32_t max_restarts = 3;
  std::chrono::milliseconds window{10000};
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{2000};
};

/// A run to start: what it is and how it is wired. Carries std::function
/// members, so it only travels within one process (runs are supervised on
/// the node that hosts them).
struct run_launch {
  run_spec spec;
  run_wiring wiring;
};

struct supervisor_config {
  /// The journal actor (actors/journal.hpp): claims, reads, failure records.
  caf::actor journal;
  restart_policy restarts;
  /// Resumed runs alive at once (0 counts as 1).
  size_t resume_concurrency = 64;
  /// Prefix of the run ids this supervisor gives; empty: a fresh one from
  /// the clock and random bits, so processes sharing a journal never collide.
  std::string id_prefix;
  /// Wires a journaled run for resume: its model route, policy, tools. Called
  /// on the supervisor's thread; an error says why the run cannot be wired
  /// here (e.g. its scenario is unknown) and becomes its resume outcome.
  std::function<caf::expected<run_wiring>(const run_spec&)> wire;
  /// Builds a delegated child that the journal does not have yet: its spec
  /// (run_start from the scenario) and wiring. Called on the supervisor's
  /// thread; ids and lineage are filled in by the supervisor.
  std::function<caf::expected<run_launch>(const child_order&)> make_child;
};


/// An admitted run: its id and its result once it ended.
struct run_ticket {
  std::string run_id;
  std::shared_future<run_result> result;
};

/// What resume is asked for: the owner's callback for every resumed run.
struct resume_order {
  std::function<void(const run_result&)> on_done;
};

/// One per run resume took on: its ticket, or why it cannot resume.
using resume_outcomes = std::vector<caf::expected<run_ticket>>;

/// `run-<hex ms>-<4 hex random>`: the default id prefix.
[[nodiscard]] std::string make_run_id_prefix();

[[nodiscard]] caf::actor spawn_run_supervisor(caf::actor_system& sys, supervisor_config cfg);

} // namespace troupe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::run_launch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::run_ticket)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::resume_order)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::resume_outcomes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::run_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::optional<troupe::run_result>)
