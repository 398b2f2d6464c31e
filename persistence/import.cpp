// `troupe import`'s side of the store: events that carry their seqs (an
// export read back), checked against what is stored and written in one
// transaction.

#include "persistence/detail/batch_writer.hpp"
#include "persistence/detail/event_rows.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::persistence {

using detail::last_of_each_run;
using detail::load_cursor;
using detail::touched_runs;
using detail::transact;
using detail::write_event;

using detail::check_envelope;
using detail::run_seq;

namespace {

// Whether `ev` is the event stored at its (run, seq). Stored bodies decide;
// when they differ, the stored row may still be the same event laid out by
// an older encoder (segment sizes changed between builds, and migrated rows
// keep their layout), so it is decoded, re-encoded and compared once more. A
// stored row that does not decode differs. The envelope is not in the body:
// it must be the run's (check_envelope).
caf::expected<bool> same_as_stored(store::impl& s, const run_cursor& c,
                                   const sealed_event& ev) {
  if (auto err = check_envelope(s, c, ev.header))
    return err;
  auto& st = s.find_event;
  st.bind(1, c.rowid);
  st.bind(2, static_cast<int64_t>(ev.header.seq));
  auto rc = st.step();
  event_bytes stored;
  int64_t ts_us = 0;
  if (rc == SQLITE_ROW) {
    auto p = static_cast<const char*>(st.blob_at(0));
    stored.assign(p, p + st.bytes_at(0));
    ts_us = st.int_at(2);
  }
  st.reset();
  auto where = run_seq(ev.header.run_id, ev.header.seq);
  if (rc == SQLITE_DONE)
    return caf::make_error(store_errc::corrupted,
                           s.path + ": " + where
                             + " is missing though runs.last_seq is "
                             + std::to_string(c.last_seq)
                             + "; run `troupe doctor --db " + s.path + "`");
  if (rc != SQLITE_ROW)
    return s.fail(rc, "reading " + where);
  if (ts_us != ev.header.ts_us)
    return false;
  auto mine = to_stored(ev.bytes);
  if (!mine)
    return std::move(mine.error());
  if (stored == *mine)
    return true;
  auto& h = ev.header;
  event_envelope env{h.run_id, h.parent_run_id, detail::envelope_root(h), h.seq, h.ts_us};
  auto full = from_stored(stored.data(), stored.size(), env, where);
  if (!full)
    return false;
  auto old = decode(*full, where);
  if (!old)
    return false;
  auto again = to_stored(encode(*old));
  return again && *again == *mine;
}

// Splits an import into events already stored (checked, counted) and events
// to write, and checks that each run counts up by one within the input.
caf::error sort_import(store::impl& s, const std::vector<sealed_event>& events,
                       import_report& rep,
                       std::vector<const sealed_event*>& fresh) {
  std::unordered_map<std::string, uint32_t> last_in_input;
  for (auto& ev : events) {
    auto& h = ev.header;
    if (h.seq == 0)
      return caf::make_error(store_errc::sequence_gap,
                             s.path + ": import: " + run_seq(h.run_id, 0)
                               + ": seqs count from 1");
    auto [prev, first] = last_in_input.try_emplace(h.run_id, h.seq);
    if (!first && h.seq != prev->second + 1)
      return caf::make_error(
        store_errc::sequence_gap,
        s.path + ": import: " + run_seq(h.run_id, h.seq) + " follows seq "
          + std::to_string(prev->second)
          + " in the input; each run's events must count up by one");
    prev->second = h.seq;
    auto cursor = load_cursor(s, h.run_id);
    if (!cursor)
      return std::move(cursor.error());
    if (*cursor == nullptr || h.seq > (*cursor)->last_seq) {
      fresh.push_back(&ev);
      continue;
    }
    auto same = same_as_stored(s, **cursor, ev);
    if (!same)
      return std::move(same.error());
    if (!*same)
      return caf::make_error(
        store_errc::import_conflict,
        s.path + ": import conflict at " + run_seq(h.run_id, h.seq)
          + ": the journal holds a different event there; nothing was "
            "imported");
    ++rep.present;
  }
  rep.runs = last_in_input.size();
  return {};
}

} // namespace

caf::expected<import_report>
store::import_events(const std::vector<sealed_event>& events) {
  auto& s = *impl_;
  import_report rep;
  if (events.empty())
    return rep;
  auto err = transact(s, "committing an import", [&](touched_runs& touched) {
    std::vector<const sealed_event*> fresh;
    if (auto err = sort_import(s, events, rep, fresh))
      return err;
    // Each run's new rows are one batch: one link, on its last row.
    auto closing = last_of_each_run(fresh, [](const sealed_event* ev) -> const sealed_event& {
      return *ev;
    });
    for (size_t i = 0; i < fresh.size(); ++i)
      if (auto err = write_event(s, *fresh[i], touched,
                                 closing.at(fresh[i]->header.run_id) == i))
        return err;
    rep.written = fresh.size();
    return caf::error{};
  });
  if (err)
    return err;
  return rep;
}

} // namespace troupe::persistence
