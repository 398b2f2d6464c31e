#pragma once
// A journaled run read back from its latest checkpoint: how resume (and crash
// restarts), `troupe replay --from-checkpoint` and `troupe show` read a run.
//
// The reader gets the run's events in seq order, already verified (CRC, hash
// chain, decode: store::for_each_verified_event), and keeps only what it
// needs: run_start, the restore point (the latest checkpoint whose snapshot
// can restore the run, and the last model_reply before it), the events after
// it, and, when asked, the transcript folded over every event. The control
// state of the events before the restore point is never folded, and they are
// not kept. A run without a usable checkpoint (a short one, or one journaled
// before snapshots were a struct) keeps every event and is folded from
// run_start.
//
// Which checkpoints are usable (check_restorable): a snapshot this build
// reads, of a run between run_start and completion, whose calls are those of
// the last reply and whose message count is that of the transcript folded up
// to it. A checkpoint that fails this is passed over (never used) and the
// reason is reported in `passed_over`; the callers log or print it, so a
// fallback is never silent. A snapshot that passes but disagrees with the
// fold would be a writer bug (or a forged row whose chain was recomputed,
// like any other forged event): replay, which folds and compares every
// snapshot, reports it at its seq.

#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/run_state.hpp"

namespace troupe {

struct rebuilt_run {
  event start;                     ///< the run's run_start event
  std::optional<event> checkpoint; ///< the restore point; none: folded from run_start
  /// The state at the restore point (empty without one). Its transcript is
  /// the one at the checkpoint, or empty when it was not asked for.
  run_state state;
  std::vector<event> tail; ///< events after the restore point, in seq order
  /// Why the checkpoints after the restore point were not used (the latest
  /// one's reason); empty when none was passed over.
  std::string passed_over;
  uint64_t events = 0; ///< events read

  /// The seq of the restore point, 0 without one.
  [[nodiscard]] uint32_t from_seq() const noexcept {
    return checkpoint ? checkpoint->seq : 0;
  }
};

/// The state a fold of all the run's events gives: `state` with the tail
/// folded in.
[[nodiscard]] run_state fold_tail(rebuilt_run&& r);

enum class rebuild_scope : uint8_t {
  with_transcript, ///< resume and replay: the conversation is needed
  control_only,    ///< show: no transcript is folded or checked
};

class run_rebuilder {
public:
  explicit run_rebuilder(rebuild_scope scope = rebuild_scope::with_transcript);

  /// Takes the run's next event (seq order, verified by the caller).
  void add(event ev);

  /// The run read so far. Errors (runtime_errc::invalid_arguments) when no
  /// event came or the first was not run_start.
  [[nodiscard]] caf::expected<rebuilt_run> finish() &&;

private:
  void try_restore_point();

  // The transcript at the restore point, without copying the conversation:
  // it only grows, so its length is enough.
  struct transcript_mark {
    size_t messages = 0;
    std::vector<std::string> recent_results;
    size_t turn_begins = 0;
    std::string recovery_reason;
    std::vector<std::string> verification_log;
  };

  rebuild_scope scope_;
  std::optional<event> start_;
  std::optional<event> checkpoint_;
  std::optional<event> checkpoint_reply_; ///< the last model_reply before it
  std::optional<size_t> reply_in_tail_;    ///< a later model_reply, in tail_
  std::vector<event> tail_;
  transcript chat_; ///< folded over every event (with_transcript)
  transcript_mark mark_;
  std::string passed_over_;
  uint64_t events_ = 0;
};

/// Reads `events` (one run, in seq order) through a run_rebuilder.
[[nodiscard]] caf::expected<rebuilt_run>
rebuild(std::vector<event> events, rebuild_scope scope = rebuild_scope::with_transcript);

} // namespace troupe
