#pragma once
// The write side of the store, shared by append (store.cpp) and import
// (import.cpp): run cursors, one event written at its run's next seq, and
// the transaction around a batch. Inside persistence/ only.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence::detail {

/// "run R seq N", for messages.
[[nodiscard]] std::string run_seq(const std::string& run_id, uint32_t seq);

/// Where a run stands inside the open transaction.
struct pending_run {
  uint32_t last_seq = 0;
  event_hash last_hash{};
  int64_t last_ts_us = 0;
  std::string rows; ///< this batch's rows so far, framed for the chain
};

// Maps each run's cached cursor to its position inside the transaction; the
// cache itself only moves after COMMIT.
using touched_runs = std::unordered_map<run_cursor*, pending_run>;

/// The cached cursor of `run_id`, read from its runs row and its last event
/// on first use; nullptr when the run has no row yet.
[[nodiscard]] caf::expected<run_cursor*> load_cursor(store::impl& s,
                                                     const std::string& run_id);

/// envelope_mismatch naming run and seq when `h`'s parent or root is not its
/// run's.
[[nodiscard]] caf::error check_envelope(const store::impl& s, const run_cursor& c,
                                        const event_header& h);

/// Writes one event at the next seq of its run (inserting the runs row on
/// its first event). The run's rows of one batch share one chain link, on
/// the last of them (`closes_batch`).
[[nodiscard]] caf::error write_event(store::impl& s, const sealed_event& ev,
                                     touched_runs& touched, bool closes_batch);

/// Moves each touched run's runs row to where the transaction left it.
[[nodiscard]] caf::error update_positions(store::impl& s, const touched_runs& touched);

// Runs `write` inside BEGIN IMMEDIATE ... COMMIT. On success the cached
// cursors move to where the transaction left the runs; on any failure the
// transaction rolls back and the cache is dropped, because the rollback may
// have undone rows (and runs rows) it describes.
template <class Write>
caf::error transact(store::impl& s, std::string_view doing, Write&& write) {
  if (auto err = s.exec("BEGIN IMMEDIATE", "starting a journal transaction"))
    return err;
  touched_runs touched;
  auto err = write(touched);
  if (!err)
    err = update_positions(s, touched);
  if (!err)
    err = s.exec("COMMIT", doing);
  if (err) {
    troupe::ignore_error(s.exec("ROLLBACK", "rolling back a failed batch"),
                         "the failure that caused the rollback is reported");
    s.cursors.clear();
    return err;
  }
  for (auto& [cursor, run] : touched) {
    cursor->last_seq = run.last_seq;
    cursor->last_hash = run.last_hash;
  }
  return {};
}

// The index of each run's last event in `batch`: where its link goes.
template <class Events, class Get>
std::unordered_map<std::string_view, size_t> last_of_each_run(const Events& events, Get get) {
  std::unordered_map<std::string_view, size_t> out;
  for (size_t i = 0; i < events.size(); ++i)
    out[get(events[i]).header.run_id] = i;
  return out;
}

} // namespace troupe::persistence::detail
