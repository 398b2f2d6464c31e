#pragma once
// Checkpoint snapshots: run_state <-> run_snapshot (the plain mirror of the
// RunSnapshot struct in schemas/journal.capnp, which says what a snapshot
// leaves out and why).
//
// A snapshot holds the control state only: everything next_step reads that
// no other event already holds. The run's identity comes from run_start, the
// turn and KPIs from the checkpoint, the ids, names and model arguments of
// the current reply's calls from its model_reply, and the transcript (the
// conversation and recent tool outcomes, the part that grows with the run)
// from folding the events before the checkpoint with apply(transcript&, ...).
// What a call holds beyond the reply (its rule, grants and normalized
// arguments) is carried for the calls decided and not yet done, at most a
// few. So a checkpoint costs the same few hundred bytes at turn 1 and turn
// 1,000, and with a reply of 1 or 1,000 calls.
//
// Contract (checked for every checkpoint of the property test's runs, and by
// replay for every checkpoint it meets): restore(run_start, the last
// model_reply before seq k, the checkpoint at seq k, the transcript folded
// through seq k) followed by apply() of the events after k gives the state a
// fold of every event gives (state_difference() is empty). The arguments of
// a finished call (and its rule and grants) are the one exception: no step
// reads them again; restore gives the model's, the fold the normalized ones.

#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/run_state.hpp"

namespace troupe {

/// The control state of `st`, as its next checkpoint carries it.
[[nodiscard]] run_snapshot snapshot_of(const run_state& st);

/// Checks that checkpoint `cp` can restore its run without building the
/// state: it carries a snapshot this build reads, of a run between run_start
/// and completion, whose calls are those of `reply` (the run's last
/// model_reply before `cp`; nullptr when it has none) and, when `messages`
/// is given, whose conversation has that many messages. Errors are
/// runtime_errc::bad_snapshot naming the run, the seq and what disagrees.
[[nodiscard]] caf::error check_restorable(const event& start, const event* reply,
                                          const event& cp,
                                          std::optional<size_t> messages);

/// The run's state at checkpoint `cp` (see the contract above), after the
/// checks of check_restorable. Without `chat` (readers that show no
/// conversation) the transcript stays empty and is not checked.
[[nodiscard]] caf::expected<run_state> restore(const event& start, const event* reply,
                                               const event& cp,
                                               std::optional<transcript> chat);

/// The first field in which a journaled snapshot differs from the one the
/// fold gives, rendered for an operator.
struct snapshot_mismatch {
  std::string field;
  std::string folded;
  std::string journaled;
};

[[nodiscard]] std::optional<snapshot_mismatch> compare(const run_snapshot& folded,
                                                       const run_snapshot& journaled);

/// The first difference between two states in anything a run reads (empty
/// when there is none); the arguments of finished calls are not compared.
[[nodiscard]] std::string state_difference(const run_state& a, const run_state& b);

} // namespace troupe
