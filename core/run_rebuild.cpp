#include "core/run_rebuild.hpp"

#include "core/run_snapshot.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe {

run_state fold_tail(rebuilt_run&& r) {
  auto st = std::move(r.state);
  for (auto& ev : r.tail)
    apply(st, ev);
  return st;
}

run_rebuilder::run_rebuilder(rebuild_scope scope) : scope_(scope) {
  // nop
}

void run_rebuilder::add(event ev) {
  ++events_;
  if (events_ == 1 && std::holds_alternative<run_start>(ev.body))
    start_ = ev;
  // The transcript is folded as events come, so a restore point never needs
  // the events before it again.
  if (scope_ == rebuild_scope::with_transcript)
    apply(chat_, ev);
  if (std::holds_alternative<model_reply>(ev.body))
    reply_in_tail_ = tail_.size();
  tail_.push_back(std::move(ev));
  if (std::holds_alternative<checkpoint>(tail_.back().body))
    try_restore_point();
}

// Makes the checkpoint just added the restore point when it can restore the
// run; otherwise keeps the previous one and says why.
void run_rebuilder::try_restore_point() {
  auto& cp = tail_.back();
  if (!start_) {
    passed_over_ = "run " + cp.run_id + " does not begin with run_start";
    return;
  }
  const event* reply = reply_in_tail_ ? &tail_[*reply_in_tail_]
                                      : (checkpoint_reply_ ? &*checkpoint_reply_ : nullptr);
  std::optional<size_t> messages;
  if (scope_ == rebuild_scope::with_transcript)
    messages = chat_.conversation.size();
  if (auto err = check_restorable(*start_, reply, cp, messages)) {
    passed_over_ = render(err);
    return;
  }
  if (reply_in_tail_)
    checkpoint_reply_ = std::move(tail_[*reply_in_tail_]);
  reply_in_tail_.reset();
  checkpoint_ = std::move(cp);
  tail_.clear();
  passed_over_.clear();
  mark_ = transcript_mark{chat_.conversation.size(), chat_.recent_results, chat_.turn_begins,
                          chat_.recovery_reason, chat_.verification_log};
}

caf::expected<rebuilt_run> run_rebuilder::finish() && {
  if (!start_)
    return caf::make_error(runtime_errc::invalid_arguments,
                           events_ == 0 ? std::string("the run has no events")
                                        : "run " + tail_.front().run_id
                                            + " does not begin with run_start");
  rebuilt_run out;
  out.start = std::move(*start_);
  out.passed_over = std::move(passed_over_);
  out.events = events_;
  out.tail = std::move(tail_);
  if (!checkpoint_)
    return out; // folded from run_start: the tail is every event
  std::optional<transcript> chat;
  if (scope_ == rebuild_scope::with_transcript) {
    // Back to the checkpoint: the events after it are folded from the tail.
    chat = std::move(chat_);
    chat->conversation.resize(mark_.messages);
    chat->recent_results = std::move(mark_.recent_results);
    chat->turn_begins = mark_.turn_begins;
    chat->recovery_reason = std::move(mark_.recovery_reason);
    chat->verification_log = std::move(mark_.verification_log);
  }
  auto st = restore(out.start, checkpoint_reply_ ? &*checkpoint_reply_ : nullptr, *checkpoint_,
                    std::move(chat));
  if (!st) // checked when it became the restore point; a bug if it fails now
    return std::move(st.error());
  out.state = std::move(*st);
  out.checkpoint = std::move(checkpoint_);
  return out;
}

caf::expected<rebuilt_run> rebuild(std::vector<event> events, rebuild_scope scope) {
  run_rebuilder rb(scope);
  for (auto& ev : events)
    rb.add(std::move(ev));
  return std::move(rb).finish();
}

} // namespace troupe
