// `troupe doctor`: every check reports what it found with run and seq; none
// stops at the first problem, so one pass shows the whole damage. The checks
// are independent, except that a batch with a row failing its CRC is not
// also reported as a chain break: a body altered behind the store's back
// shows as a checksum mismatch, or, when the CRC was recomputed too, as a
// chain break at the last row of its batch.

#include "persistence/detail/store_impl.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::persistence {

namespace {

void sqlite_check(store::impl& s, integrity_report& rep) {
  detail::statement st;
  if (auto rc = st.prepare(s.db, "PRAGMA integrity_check"); rc != SQLITE_OK) {
    rep.problems.push_back({"", 0, render(s.fail(rc, "integrity_check"))});
    return;
  }
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto line = st.text_at(0);
    if (line != "ok")
      rep.problems.push_back({"", 0, "sqlite: " + line});
  }
  if (rc != SQLITE_DONE)
    rep.problems.push_back({"", 0, render(s.fail(rc, "integrity_check"))});
}

} // namespace

namespace detail {

std::optional<event> check_row(const stored_event& ev, uint32_t expected_seq,
                               integrity_report& rep) {
  auto add = [&](std::string what) {
    rep.problems.push_back({ev.run_id, ev.seq, std::move(what)});
  };
  if (ev.seq != expected_seq)
    add("seq gap: expected " + std::to_string(expected_seq) + ", found "
        + std::to_string(ev.seq));
  auto crc = checksum(ev.body.data(), ev.body.size());
  if (crc != ev.crc) {
    add("checksum mismatch: stored " + std::to_string(ev.crc) + ", computed "
        + std::to_string(crc));
    return std::nullopt;
  }
  auto where = "run " + ev.run_id + " seq " + std::to_string(ev.seq);
  if (ev.bytes.empty()) {
    // Unpack again only to say why: rows are read with the event rebuilt.
    event_envelope env{ev.run_id, ev.parent_run_id, ev.root_run_id, ev.seq, ev.ts_us};
    auto full = from_stored(ev.body.data(), ev.body.size(), env, where);
    add(full ? std::string("does not unpack") : render(full.error()));
    return std::nullopt;
  }
  auto decoded = decode(ev.bytes, where);
  if (!decoded) {
    add(render(decoded.error()));
    return std::nullopt;
  }
  if (to_string(decoded->kind()) != ev.kind)
    add("kind column '" + ev.kind + "' but the event is '"
        + std::string(to_string(decoded->kind())) + "'");
  return std::move(*decoded);
}

caf::error chain_checker::start(const std::string& run_id) {
  run_id_ = run_id;
  rows_.clear();
  first_ = last_ = 0;
  skip_ = false;
  auto seed = chain_seed(run_id);
  if (!seed)
    return std::move(seed.error());
  link_ = *seed;
  return {};
}

// The next batch starts from the stored link, not the computed one: an
// altered row breaks exactly its own batch's link, a removed or inserted row
// the link of the batch it was in (or the next one), an altered link its own
// and the next; everything after chains cleanly again.
bool chain_checker::add(const stored_event& row, bool crc_ok, integrity_report& rep) {
  if (first_ == 0)
    first_ = row.seq;
  last_ = row.seq;
  skip_ = skip_ || !crc_ok;
  add_chain_row(rows_, row.seq, row.ts_us, row.body.data(), row.body.size());
  if (!row.linked)
    return false;
  auto batch = first_ == row.seq ? "" : " (the batch of seqs " + std::to_string(first_) + " to "
                                          + std::to_string(row.seq) + ")";
  // A batch with a row that failed its CRC is reported once, as a checksum
  // mismatch; its link would only repeat that.
  if (!skip_) {
    auto computed = chain_next(link_, rows_.data(), rows_.size());
    if (!computed)
      rep.problems.push_back({row.run_id, row.seq, render(computed.error())});
    else if (*computed != row.hash)
      rep.problems.push_back(
        {row.run_id, row.seq,
         "hash chain broken at seq " + std::to_string(row.seq) + batch + ": stored "
           + to_hex(row.hash, 16) + ", computed " + to_hex(*computed, 16)
           + " from the previous link and the batch's rows (a row of the batch was "
             "altered, removed or inserted, or a row or link before it)"});
  }
  link_ = row.hash;
  rows_.clear();
  first_ = 0;
  skip_ = false;
  return true;
}

void chain_checker::finish(integrity_report& rep) {
  if (first_ == 0)
    return;
  rep.problems.push_back({run_id_, first_,
                          "seqs " + std::to_string(first_) + " to " + std::to_string(last_)
                            + " carry no hash chain link: the row that held their "
                              "batch's link is missing, or its link was removed"});
  rows_.clear();
  first_ = 0;
}

} // namespace detail

caf::expected<integrity_report> store::check_integrity() {
  auto& s = *impl_;
  integrity_report rep;
  sqlite_check(s, rep);
  // Doctor reports a run row it cannot read and checks the others.
  std::vector<run_info> runs;
  if (auto err = detail::list_run_rows(s, std::nullopt, runs, &rep.problems))
    return err;
  rep.runs = runs.size();
  std::string current;
  uint32_t next = 1;
  detail::chain_checker chain;
  std::unordered_map<std::string, uint32_t> last_seen;
  auto err = for_each_event("", [&](const stored_event& ev) {
    if (ev.run_id != current) {
      chain.finish(rep);
      current = ev.run_id;
      next = 1;
      if (auto err = chain.start(current))
        return err;
    }
    // Doctor only reports; the decoded event itself is not needed here.
    static_cast<void>(detail::check_row(ev, next, rep));
    chain.add(ev, checksum(ev.body.data(), ev.body.size()) == ev.crc, rep);
    next = ev.seq + 1;
    last_seen[ev.run_id] = ev.seq;
    ++rep.events;
    return caf::error{};
  });
  if (!err)
    chain.finish(rep);
  if (err)
    rep.problems.push_back({"", 0, render(err)});
  for (auto& r : runs) {
    auto i = last_seen.find(r.run_id);
    auto last = i == last_seen.end() ? 0u : i->second;
    if (last != r.last_seq)
      rep.problems.push_back({r.run_id, 0,
                              "runs.last_seq is " + std::to_string(r.last_seq)
                                + " but the last event has seq "
                                + std::to_string(last)});
  }
  return rep;
}

} // namespace troupe::persistence
