// Rows of the events table at schema version 8, and the migration that
// brings older rows to that shape.

#include "persistence/detail/event_rows.hpp"


#include "persistence/detail/store_impl.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::persistence::detail {

void rebuild_bytes(stored_event& row) {
  event_envelope env{row.run_id, row.parent_run_id, row.root_run_id, row.seq, row.ts_us};
  auto full = from_stored(row.body.data(), row.body.size(), env);
  if (full)
    row.bytes = std::move(*full);
  else
    row.bytes.clear();
}

stored_event read_event_row(const statement& st) {
  stored_event ev;
  ev.run_id = st.text_at(0);
  ev.seq = static_cast<uint32_t>(st.int_at(1));
  ev.kind = st.text_at(2);
  ev.ts_us = st.int_at(3);
  auto p = static_cast<const char*>(st.blob_at(4));
  ev.body.assign(p, p + st.bytes_at(4));
  ev.crc = static_cast<uint32_t>(st.int_at(5));
  // A hash of the wrong length reads as zeros: no link matches it, so
  // check_integrity reports it where it is. An empty one is a row inside a
  // batch, before the row that carries the batch's link.
  ev.linked = st.bytes_at(6) != 0;
  read_hash(st, 6, ev.hash);
  ev.parent_run_id = st.text_at(7);
  ev.root_run_id = std::string(envelope_root(ev.run_id, st.text_at(8)));
  rebuild_bytes(ev);
  return ev;
}

namespace {

std::string run_seq(const std::string& run_id, int64_t seq) {
  return "run " + run_id + " seq " + std::to_string(seq);
}

// A row the migration cannot carry over without losing what it holds. The
// file stays at its version: the troupe that wrote it can still read it.
caf::error refuse(const store::impl& s, const std::string& where, const std::string& why) {
  return caf::make_error(store_errc::corrupted,
                         s.path + ": cannot migrate to schema version 8: " + where + " "
                           + why + "; nothing was changed. Check the journal with "
                                   "`troupe doctor` of the troupe that wrote it");
}

/// One version-7 row as read for the migration.
struct old_row {
  int64_t id = 0;
  int64_t seq = 0;
  int64_t ts_us = 0;
  event_bytes body;
  uint32_t crc = 0;
  event_hash hash{};
  std::string run_id, parent_run_id, runs_root;
};

// Everything the old row says must survive the new shape: its CRC and link
// (else damage would be laundered by a fresh CRC and chain), its decode, and
// an envelope that the run's row and the row's columns hold.
caf::error check_old_row(const store::impl& s, const old_row& r, const event_hash& prev) {
  auto where = run_seq(r.run_id, r.seq);
  if (checksum(r.body.data(), r.body.size()) != r.crc)
    return refuse(s, where, "fails its checksum");
  auto link = chain_next(prev, r.body.data(), r.body.size());
  if (!link)
    return std::move(link.error());
  if (*link != r.hash)
    return refuse(s, where, "breaks the hash chain");
  auto ev = decode(r.body, where);
  if (!ev)
    return refuse(s, where, "does not decode (" + render(ev.error()) + ")");
  if (ev->run_id != r.run_id || ev->seq != r.seq || ev->ts_us != r.ts_us)
    return refuse(s, where, "holds an event whose run, seq or time differs from its row's");
  event_header h{ev->run_id, ev->parent_run_id, ev->root_run_id, ev->seq, ev->ts_us,
                 ev->kind()};
  if (ev->parent_run_id != r.parent_run_id
      || envelope_root(h) != envelope_root(r.run_id, r.runs_root))
    return refuse(s, where, "names parent run '" + ev->parent_run_id + "' and root run '"
                              + ev->root_run_id + "', its run's row '" + r.parent_run_id
                              + "' and '" + r.runs_root
                              + "'; version 8 keeps one envelope per run");
  return {};
}

caf::expected<uint64_t> count_events(store::impl& s) {
  statement st;
  if (auto rc = st.prepare(s.db, "SELECT count(*) FROM events"); rc != SQLITE_OK)
    return s.fail(rc, "counting events to migrate");
  auto rc = st.step();
  if (rc != SQLITE_ROW)
    return s.fail(rc, "counting events to migrate");
  return static_cast<uint64_t>(st.int_at(0));
}

} // namespace

caf::error rewrite_events(store::impl& s) {
  auto total = count_events(s);
  if (!total)
    return std::move(total.error());
  statement sel, up;
  if (auto rc = sel.prepare(s.db, "SELECT e.id, e.seq, e.ts_us, e.body, e.crc, e.hash, "
                                  "r.run_id, r.parent_run_id, r.root_run_id "
                                  "FROM events e JOIN runs r ON r.id = e.run "
                                  "ORDER BY e.run, e.seq");
      rc != SQLITE_OK)
    return s.fail(rc, "reading events to migrate");
  if (auto rc = up.prepare(s.db, "UPDATE events SET body = ?2, crc = ?3, hash = ?4 "
                                 "WHERE id = ?1");
      rc != SQLITE_OK)
    return s.fail(rc, "preparing the event migration");
  old_row r;
  event_hash old_prev{}, new_prev{};
  std::string current, rows;
  uint64_t done = 0;
  int rc;
  // Updating rows the SELECT has passed is safe: it changes no column the
  // scan orders or filters by.
  while ((rc = sel.step()) == SQLITE_ROW) {
    r.id = sel.int_at(0);
    r.seq = sel.int_at(1);
    r.ts_us = sel.int_at(2);
    auto p = static_cast<const char*>(sel.blob_at(3));
    r.body.assign(p, p + sel.bytes_at(3));
    r.crc = static_cast<uint32_t>(sel.int_at(4));
    read_hash(sel, 5, r.hash);
    r.run_id = sel.text_at(6);
    r.parent_run_id = sel.text_at(7);
    r.runs_root = sel.text_at(8);
    if (r.run_id != current) {
      current = r.run_id;
      auto seed = chain_seed(current);
      if (!seed)
        return std::move(seed.error());
      old_prev = new_prev = *seed;
    }
    if (auto err = check_old_row(s, r, old_prev))
      return err;
    old_prev = r.hash;
    auto stored = to_stored(r.body);
    if (!stored)
      return refuse(s, run_seq(r.run_id, r.seq), render(stored.error()));
    rows.clear();
    add_chain_row(rows, static_cast<uint32_t>(r.seq), r.ts_us, stored->data(), stored->size());
    auto link = chain_next(new_prev, rows.data(), rows.size());
    if (!link)
      return std::move(link.error());
    new_prev = *link;
    up.bind(1, r.id);
    up.bind_blob(2, stored->data(), stored->size());
    up.bind(3, static_cast<int64_t>(checksum(stored->data(), stored->size())));
    up.bind_blob(4, link->data(), link->size());
    auto urc = up.step();
    up.reset();
    if (urc != SQLITE_DONE)
      return s.fail(urc, "rewriting " + run_seq(r.run_id, r.seq));
    if (++done % 5000 == 0 && s.progress)
      s.progress(done, *total);
  }
  if (rc != SQLITE_DONE)
    return s.fail(rc, "reading events to migrate");
  if (s.progress && (done == 0 || done % 5000 != 0))
    s.progress(done, *total);
  return {};
}

} // namespace troupe::persistence::detail
