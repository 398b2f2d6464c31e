// `troupe doctor`: every check reports what it found with run and seq; none
// stops at the first problem, so one pass shows the whole damage. The checks
// are independent, except that a row failing its CRC is not also reported as
// a chain break: a body altered behind the store's back shows as a checksum
// mismatch, or, when the CRC was recomputed too, as a chain break.

#include "persistence/detail/store_impl.hpp"

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
  auto crc = checksum(ev.bytes.data(), ev.bytes.size());
  if (crc != ev.crc) {
    add("checksum mismatch: stored " + std::to_string(ev.crc) + ", computed "
        + std::to_string(crc));
    return std::nullopt;
  }
  auto decoded = decode(ev.bytes, "run " + ev.run_id + " seq "
                                    + std::to_string(ev.seq));
  if (!decoded) {
    add(render(decoded.error()));
    return std::nullopt;
  }
  if (decoded->run_id != ev.run_id || decoded->seq != ev.seq)
    add("envelope says run " + decoded->run_id + " seq "
        + std::to_string(decoded->seq) + ", row says otherwise");
  if (to_string(decoded->kind()) != ev.kind)
    add("kind column '" + ev.kind + "' but the event is '"
        + std::string(to_string(decoded->kind())) + "'");
  if (decoded->ts_us != ev.ts_us)
    add("ts_us column " + std::to_string(ev.ts_us) + " but the event says "
        + std::to_string(decoded->ts_us));
  return std::move(*decoded);
}

// Checks one link of the run's chain. The next link starts from the stored
// hash, not the computed one: an altered body breaks exactly one link (its
// own), a removed or inserted row the link after it, an altered hash its own
// and the next; everything after chains cleanly again.
void check_link(const stored_event& ev, event_hash& prev,
                integrity_report& rep) {
  auto add = [&](std::string what) {
    rep.problems.push_back({ev.run_id, ev.seq, std::move(what)});
  };
  auto computed = chain_next(prev, ev.bytes.data(), ev.bytes.size());
  if (!computed) {
    add(render(computed.error()));
    return;
  }
  if (*computed != ev.hash)
    add("hash chain broken at seq " + std::to_string(ev.seq) + ": stored "
        + to_hex(ev.hash, 16) + ", computed " + to_hex(*computed, 16)
        + " from the previous row's hash and this body (this row was "
          "altered, or a row before it was removed, inserted or altered)");
  prev = ev.hash;
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
  event_hash link{};
  std::unordered_map<std::string, uint32_t> last_seen;
  auto err = for_each_event("", [&](const stored_event& ev) {
    if (ev.run_id != current) {
      current = ev.run_id;
      next = 1;
      auto seed = chain_seed(current);
      if (!seed)
        return std::move(seed.error());
      link = *seed;
    }
    // Doctor only reports; the decoded event itself is not needed here.
    static_cast<void>(detail::check_row(ev, next, rep));
    // A body that fails its CRC is reported once, as a checksum mismatch;
    // its link would only repeat that. The chain continues from its hash.
    if (checksum(ev.bytes.data(), ev.bytes.size()) == ev.crc)
      detail::check_link(ev, link, rep);
    else
      link = ev.hash;
    next = ev.seq + 1;
    last_seen[ev.run_id] = ev.seq;
    ++rep.events;
    return caf::error{};
  });
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
