#pragma once
// The journal actor: the single writer of one SQLite journal.
//
// Protocol (every reply is a uint32_t seq or an error):
//   (append_atom, event_bytes)               accepted: replies with the seq it
//                                            stamped, before the commit
//   (append_atom, actor, event_bytes)        accepted and quiet (how runs
//                                            append, sent without a sender):
//                                            no reply; a refusal is sent to
//                                            `actor` as (refused_atom, error)
//   (append_atom, durable_atom, event_bytes) durable: replies after the COMMIT
//                                            (synchronous=FULL) holding it
//   (append_atom, actor, sealed_event)       as the two above, for a draft
//   (append_atom, durable_atom, sealed_event) whose header and stored body
//                                            its sender made (runs do, so the
//                                            one writer thread neither parses
//                                            nor packs their events); seq 0
//                                            until stamped here. In-process
//                                            only, and trusted as made by
//                                            `to_stored`: not checked again
//   (flush_atom)                             replies once everything accepted
//                                            so far is committed
//   (reopen_atom)                            reopens the store after a failure
//   (stats_atom)                             replies with journal_stats
//   (read_atom, run_id)                      commits what is pending, then
//                                            replies with the run read back
//                                            from its latest checkpoint
//                                            (rebuilt_run, actors/run_reader.hpp),
//                                            every row verified and decoded; a
//                                            damaged row is `corrupted`,
//                                            naming run and seq
//   (unfinished_atom)                        commits what is pending, then
//                                            replies with the ids of the runs
//                                            whose status is still running, in
//                                            the order they began
//                                            (std::vector<std::string>), except
//                                            children of unfinished parents
//                                            (their parent finds them again)
//   (claim_atom, run_id)                     takes an unfinished run over for
//                                            this process (see below); replies
//                                            unit or the store's refusal
// Appends that arrive while a commit runs join the next transaction (group
// commit). Events carry seq 0; the journal assigns each run contiguous seqs
// from 1 in arrival order.
//
// A refused append of a run (busy, not_owner) makes every later append of
// that run refused with the same error until the run is claimed again: the
// journal keeps a prefix of what the run did, and a sender that does not wait
// for accepted appends learns of the refusal at its next durable one.
//
// Ownership (persistence/run_owner.hpp): the journal writes as this process.
// A new run's first event makes it the run's owner; an unfinished run of the
// journal must be claimed before its events are accepted. The leases of all
// owned runs are renewed every `renew_interval`. When a commit finds that a
// run is no longer ours (another process took it over after our lease
// expired), that run's events are left out, its durable appends fail with
// `not_owner`, and so does every later append to it; other runs go on.
//
// Failure model: after a failed commit the journal refuses every append with
// journal_errc::writer_failed until reopened. Durable appends are acknowledged
// only after their COMMIT, so nothing acknowledged as durable is ever lost;
// accepted-only appends in the failed batch are lost and their senders learn
// it from the next append's error.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>

#include "actors/journal_meter.hpp"
#include "core/run_rebuild.hpp"
#include "persistence/store.hpp"
#include "schemas/event.hpp"

namespace troupe {

enum class journal_errc : uint8_t {
  busy = 1,      ///< the inbox is over capacity; retry later (backpressure)
  writer_failed, ///< a commit failed; the journal refuses appends until reopened
  bad_event,     ///< the bytes are not a journal event
  not_owner,     ///< another process drives the run now; this one must stop
};

struct journal_config {
  std::string path = "troupe.db";
  /// Appends waiting in the inbox beyond this are answered with `busy`.
  size_t inbox_capacity = 100000;
  /// A batch this large commits at once instead of waiting for the inbox to
  /// drain, bounding transaction size and memory.
  size_t max_batch = 8192;
  /// Run on an own thread so fsync never stalls CAF's workers. Tests under
  /// the deterministic scheduler turn this off.
  bool detached = true;
  /// Who writes: this process's owner id unless a test plays several.
  std::string owner;
  /// How long a run stays ours without renewal.
  std::chrono::microseconds lease{30'000'000};
  /// How often the leases are renewed; zero: never. A pending timer keeps
  /// the actor alive, so whoever turns it on stops the journal explicitly
  /// (the embedding facade does, with a third of the lease).
  std::chrono::milliseconds renew_interval{0};
  /// Where the writer records its commit latencies, batch sizes and inbox
  /// depth for readers on other threads (runtime::stats); none: not kept.
  std::shared_ptr<journal_meter> meter;
};

struct journal_stats {
  uint64_t accepted = 0;
  uint64_t committed = 0;
  uint64_t commits = 0;
  uint64_t rejected_busy = 0;
  uint64_t largest_batch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_stats& x) {
  return f(caf::meta::type_name("journal_stats"), x.accepted, x.committed,
           x.commits, x.rejected_busy, x.largest_batch);
}

/// Opens (creating or migrating) the journal at `cfg.path` and spawns its
/// writer. Errors from opening come back here, before any actor exists.
[[nodiscard]] caf::expected<caf::actor>
spawn_journal(caf::actor_system& sys, journal_config cfg);

} // namespace troupe

CAF_ERROR_CODE_ENUM(troupe::journal_errc, "journal")
// Decoded runs reach only actors of this process (runs are supervised on the
// node that journals them); across processes events travel as bytes.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::rebuilt_run)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::persistence::sealed_event)
