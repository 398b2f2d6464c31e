// The batch writer: each event of a batch continues its run (seq, envelope,
// hash chain link per batch), inside the transaction `transact` holds.

#include "persistence/detail/batch_writer.hpp"

#include <algorithm>

#include "persistence/detail/event_rows.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::persistence::detail {

std::string run_seq(const std::string& run_id, uint32_t seq) {
  return "run " + run_id + " seq " + std::to_string(seq);
}

namespace {

// The hash a run's next event chains from: its last row's, or the seed.
caf::expected<event_hash> chain_tip(store::impl& s, const std::string& run_id,
                                    const run_cursor& c) {
  if (c.last_seq == 0)
    return chain_seed(run_id);
  auto& st = s.find_event;
  st.bind(1, c.rowid);
  st.bind(2, static_cast<int64_t>(c.last_seq));
  auto rc = st.step();
  event_hash tip{};
  auto valid = rc == SQLITE_ROW && detail::read_hash(st, 1, tip);
  st.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return s.fail(rc, "reading the last hash of run " + run_id);
  if (!valid)
    return caf::make_error(
      store_errc::corrupted,
      s.path + ": " + run_seq(run_id, c.last_seq)
        + (rc == SQLITE_DONE ? " is missing though runs.last_seq points at it"
                             : " has no valid hash")
        + ", so the run's hash chain cannot continue; run `troupe doctor --db "
        + s.path + "`");
  return tip;
}

} // namespace

caf::expected<run_cursor*> load_cursor(store::impl& s,
                                       const std::string& run_id) {
  if (auto i = s.cursors.find(run_id); i != s.cursors.end())
    return &i->second;
  auto& find = s.find_run_rowid;
  find.bind(1, run_id);
  auto rc = find.step();
  run_cursor c;
  if (rc == SQLITE_ROW)
    c = run_cursor{find.int_at(0), static_cast<uint32_t>(find.int_at(1)), {},
                   find.text_at(2),
                   std::string(detail::envelope_root(run_id, find.text_at(3)))};
  find.reset();
  if (rc == SQLITE_DONE)
    return nullptr;
  if (rc != SQLITE_ROW)
    return s.fail(rc, "looking up run " + run_id);
  auto tip = chain_tip(s, run_id, c);
  if (!tip)
    return std::move(tip.error());
  c.last_hash = *tip;
  auto& slot = s.cursors[run_id];
  slot = c;
  return &slot;
}

namespace {

// The whole event, for the run row's columns (run_start, completion).
caf::expected<event> decode_sealed(const sealed_event& ev) {
  auto& h = ev.header;
  auto where = run_seq(h.run_id, h.seq);
  if (!ev.bytes.empty())
    return decode(ev.bytes, where);
  event_envelope env{h.run_id, h.parent_run_id, envelope_root(h), h.seq, h.ts_us};
  auto full = from_stored(ev.stored.data(), ev.stored.size(), env, where);
  if (!full)
    return std::move(full.error());
  return decode(*full, where);
}

// Returns the run's cursor, inserting the run row on first sight. The run row
// takes its descriptive columns from the run_start event when there is one.
caf::expected<run_cursor*> ensure_run(store::impl& s, const sealed_event& ev) {
  auto& h = ev.header;
  auto found = load_cursor(s, h.run_id);
  if (!found || *found)
    return found;
  std::string agent, tenant;
  if (h.kind == event_kind::run_start) {
    auto full = decode_sealed(ev);
    if (!full)
      return std::move(full.error());
    auto& start = std::get<run_start>(full->body);
    agent = start.agent;
    tenant = start.tenant;
  }
  auto seed = chain_seed(h.run_id);
  if (!seed)
    return std::move(seed.error());
  auto& ins = s.insert_run;
  ins.bind(1, h.run_id);
  ins.bind(2, h.parent_run_id);
  ins.bind(3, h.root_run_id.empty() ? h.run_id : h.root_run_id);
  ins.bind(4, agent);
  ins.bind(5, tenant);
  ins.bind(6, h.ts_us);
  auto rc = ins.step();
  ins.reset();
  if (rc != SQLITE_DONE)
    return s.fail(rc, "inserting run " + h.run_id);
  auto& c = s.cursors[h.run_id];
  c = run_cursor{sqlite3_last_insert_rowid(s.db), 0, *seed, h.parent_run_id,
                 std::string(detail::envelope_root(h))};
  return &c;
}

caf::error record_completion(store::impl& s, int64_t rowid,
                             const sealed_event& ev) {
  auto full = decode_sealed(ev);
  if (!full)
    return std::move(full.error());
  auto* done = std::get_if<completion>(&full->body);
  if (done == nullptr)
    return caf::make_error(store_errc::corrupted,
                           s.path + ": run " + ev.header.run_id
                             + ": a completion header over another body");
  auto& st = s.complete_run;
  detail::bind_completion(st, rowid, *done);
  auto rc = st.step();
  st.reset();
  return rc == SQLITE_DONE ? caf::error{}
                           : s.fail(rc, "completing run " + ev.header.run_id);
}

// `link` is null for a row before the last of its run's batch.
caf::error insert_event(store::impl& s, int64_t rowid, const sealed_event& ev,
                        const event_bytes& body, const event_hash* link) {
  auto& st = s.insert_event;
  st.bind(1, rowid);
  st.bind(2, static_cast<int64_t>(ev.header.seq));
  st.bind(3, to_string(ev.header.kind));
  st.bind(4, ev.header.ts_us);
  st.bind_blob(5, body.data(), body.size());
  st.bind(6, static_cast<int64_t>(checksum(body.data(), body.size())));
  if (link != nullptr)
    st.bind_blob(7, link->data(), link->size());
  else
    st.bind_blob(7, detail::no_link, 0);
  auto rc = st.step();
  st.reset();
  return rc == SQLITE_DONE ? caf::error{}
                           : s.fail(rc, "appending " + run_seq(ev.header.run_id,
                                                                ev.header.seq));
}

} // namespace

caf::error check_envelope(const store::impl& s, const run_cursor& c,
                          const event_header& h) {
  if (h.parent_run_id == c.parent_run_id && detail::envelope_root(h) == c.root_run_id)
    return {};
  return caf::make_error(store_errc::envelope_mismatch,
                         s.path + ": " + run_seq(h.run_id, h.seq) + " names parent run '"
                           + h.parent_run_id + "' and root run '" + h.root_run_id
                           + "', but its run has parent '" + c.parent_run_id
                           + "' and root '" + c.root_run_id
                           + "': every event of a run carries the same envelope");
}

caf::error write_event(store::impl& s, const sealed_event& ev,
                       touched_runs& touched, bool closes_batch) {
  auto cursor = ensure_run(s, ev);
  if (!cursor)
    return std::move(cursor.error());
  auto* c = *cursor;
  auto& run = touched
                .try_emplace(c, pending_run{c->last_seq, c->last_hash,
                                            ev.header.ts_us, {}})
                .first->second;
  if (ev.header.seq != run.last_seq + 1)
    return caf::make_error(store_errc::sequence_gap,
                           s.path + ": run " + ev.header.run_id
                             + " expects seq " + std::to_string(run.last_seq + 1)
                             + ", got " + std::to_string(ev.header.seq));
  if (auto err = check_envelope(s, *c, ev.header))
    return err;
  caf::expected<event_bytes> made{event_bytes{}};
  const event_bytes* body = &ev.stored;
  if (ev.stored.empty()) {
    made = to_stored(ev.bytes);
    if (!made)
      return caf::make_error(store_errc::corrupted,
                             s.path + ": " + run_seq(ev.header.run_id, ev.header.seq) + ": "
                               + render(made.error()));
    body = &*made;
  }
  add_chain_row(run.rows, ev.header.seq, ev.header.ts_us, body->data(), body->size());
  const event_hash* link = nullptr;
  if (closes_batch) {
    auto next = chain_next(run.last_hash, run.rows.data(), run.rows.size());
    if (!next)
      return std::move(next.error());
    run.last_hash = *next;
    run.rows.clear();
    link = &run.last_hash;
  }
  if (auto err = insert_event(s, c->rowid, ev, *body, link))
    return err;
  run.last_seq = ev.header.seq;
  run.last_ts_us = std::max(run.last_ts_us, ev.header.ts_us);
  if (ev.header.kind == event_kind::completion)
    return record_completion(s, c->rowid, ev);
  return {};
}

caf::error update_positions(store::impl& s, const touched_runs& touched) {
  auto& up = s.update_cursor;
  for (auto& [cursor, run] : touched) {
    up.bind(1, cursor->rowid);
    up.bind(2, static_cast<int64_t>(run.last_seq));
    up.bind(3, run.last_ts_us);
    auto rc = up.step();
    up.reset();
    if (rc != SQLITE_DONE)
      return s.fail(rc, "updating run positions");
  }
  return {};
}

} // namespace troupe::persistence::detail
