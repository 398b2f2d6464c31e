#include "persistence/store.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence {

namespace detail {

caf::error sqlite_error(sqlite3* db, int rc, const std::string& path,
                        std::string_view doing) {
  auto primary = rc & 0xff;
  std::string msg = path + ": " + std::string(doing) + " failed: "
                    + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_NOTADB:
      return caf::make_error(store_errc::not_a_journal,
                             path + ": not a troupe journal (" +
                               sqlite3_errstr(rc) + ")");
    case SQLITE_CORRUPT:
      return caf::make_error(store_errc::corrupted,
                             path + ": the journal is corrupted ("
                               + sqlite3_errstr(rc) + ") while "
                               + std::string(doing)
                               + "; run `troupe doctor --db " + path + "`");
    case SQLITE_CANTOPEN:
      return caf::make_error(store_errc::not_found, std::move(msg));
    default:
      return caf::make_error(store_errc::io_error, std::move(msg));
  }
}

} // namespace detail

caf::error store::impl::exec(std::string_view sql, std::string_view doing) {
  std::string text(sql);
  auto rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? caf::error{} : fail(rc, doing);
}

namespace {

caf::expected<int64_t> pragma_int(store::impl& s, const char* name) {
  detail::statement st;
  std::string sql = std::string("PRAGMA ") + name;
  if (auto rc = st.prepare(s.db, sql); rc != SQLITE_OK)
    return s.fail(rc, std::string("reading ") + name);
  auto rc = st.step();
  if (rc != SQLITE_ROW)
    return s.fail(rc, std::string("reading ") + name);
  return st.int_at(0);
}

caf::expected<int64_t> table_count(store::impl& s) {
  detail::statement st;
  if (auto rc = st.prepare(s.db, "SELECT count(*) FROM sqlite_schema");
      rc != SQLITE_OK)
    return s.fail(rc, "reading the schema");
  auto rc = st.step();
  if (rc != SQLITE_ROW)
    return s.fail(rc, "reading the schema");
  return st.int_at(0);
}

// Decides what the file is and brings it to the current schema (read-write)
// or refuses it (read-only), without writing anything in the refusal paths.
caf::error inspect_and_upgrade(store::impl& s) {
  auto app = pragma_int(s, "application_id");
  if (!app)
    return std::move(app.error());
  auto version = pragma_int(s, "user_version");
  if (!version)
    return std::move(version.error());
  s.opened_version = *version;
  if (*app == 0 && *version == 0) {
    auto tables = table_count(s);
    if (!tables)
      return std::move(tables.error());
    if (*tables != 0)
      return caf::make_error(store_errc::not_a_journal,
                             s.path + ": a SQLite database, but not a troupe "
                                      "journal (no troupe application id)");
    if (s.mode == open_mode::read_only)
      return caf::make_error(store_errc::not_a_journal,
                             s.path + ": an empty SQLite file, not a troupe "
                                      "journal");
    s.opened_version = current_schema_version;
    return detail::create_schema(s);
  }
  if (*app != application_id)
    return caf::make_error(store_errc::not_a_journal,
                           s.path + ": a SQLite database of another "
                                    "application (application_id "
                             + std::to_string(*app) + "), not a troupe journal");
  if (*version > current_schema_version)
    return caf::make_error(
      store_errc::newer_schema,
      s.path + ": journal schema version " + std::to_string(*version)
        + " is newer than this troupe supports ("
        + std::to_string(current_schema_version) + "); upgrade troupe");
  if (*version < current_schema_version) {
    if (s.mode == open_mode::read_only)
      return caf::make_error(
        store_errc::needs_migration,
        s.path + ": journal schema version " + std::to_string(*version)
          + " must be migrated to " + std::to_string(current_schema_version)
          + "; run `troupe migrate --db " + s.path + "`");
    return detail::migrate(s, *version);
  }
  return {};
}

// Read-write opens decide under the write lock: two processes opening a
// fresh file at once would otherwise both see it empty and both create the
// schema ("table runs already exists"), or one would count the other's
// half-made tables ("not a troupe journal"). The second waits for the lock
// (busy timeout), then finds the finished schema.
caf::error check_version(store::impl& s) {
  if (s.mode == open_mode::read_only)
    return inspect_and_upgrade(s);
  if (auto err = s.exec("BEGIN IMMEDIATE", "locking the journal to check its schema"))
    return err;
  auto err = inspect_and_upgrade(s);
  if (!err)
    return s.exec("COMMIT", "committing the journal schema");
  troupe::ignore_error(s.exec("ROLLBACK", "rolling back"),
                       "the first error is the one to report");
  return err;
}

caf::error prepare_writer(store::impl& s) {
  struct {
    detail::statement* stmt;
    const char* sql;
  } all[] = {
    {&s.insert_event,
     "INSERT INTO events(run, seq, kind, ts_us, body, crc, hash) "
     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {&s.insert_run,
     "INSERT INTO runs(run_id, parent_run_id, root_run_id, agent, tenant, "
     "created_us, updated_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)"},
    {&s.find_run_rowid, "SELECT id, last_seq FROM runs WHERE run_id = ?1"},
    {&s.find_event, "SELECT body, hash FROM events WHERE run = ?1 AND seq = ?2"},
    {&s.update_cursor,
     "UPDATE runs SET last_seq = ?2, updated_us = max(updated_us, ?3) "
     "WHERE id = ?1"},
    {&s.complete_run, detail::complete_run_sql},
  };
  for (auto& x : all)
    if (auto rc = x.stmt->prepare(s.db, x.sql); rc != SQLITE_OK)
      return s.fail(rc, "preparing the writer");
  return {};
}

// Read-only stores still connect read-write when they can: after a crash the
// WAL index must be rebuilt, which a SQLITE_OPEN_READONLY connection cannot do.
// query_only forbids every write by SQL and NO_CKPT_ON_CLOSE keeps the last
// close from checkpointing, so the file stays byte-for-byte untouched.
caf::error connect(store::impl& s) {
  int base = SQLITE_OPEN_NOMUTEX;
  int flags = base | SQLITE_OPEN_READWRITE
              | (s.mode == open_mode::read_write ? SQLITE_OPEN_CREATE : 0);
  auto rc = sqlite3_open_v2(s.path.c_str(), &s.db, flags, nullptr);
  if (rc != SQLITE_OK && s.mode == open_mode::read_only) {
    sqlite3_close_v2(s.db);
    s.db = nullptr;
    rc = sqlite3_open_v2(s.path.c_str(), &s.db, base | SQLITE_OPEN_READONLY,
                         nullptr);
  }
  if (rc != SQLITE_OK)
    return s.fail(rc, "opening the journal");
  sqlite3_busy_timeout(s.db, 5000);
  sqlite3_extended_result_codes(s.db, 1);
  detail::register_functions(s.db);
  if (s.mode == open_mode::read_only) {
    sqlite3_db_config(s.db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (auto err = s.exec("PRAGMA query_only = 1", "making the connection read-only"))
      return err;
  }
  return {};
}

} // namespace

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::store(store&&) noexcept = default;
store& store::operator=(store&&) noexcept = default;
store::~store() = default;

const std::string& store::path() const noexcept { return impl_->path; }

int64_t store::opened_version() const noexcept {
  return impl_->opened_version;
}

caf::expected<store> store::open(const std::string& path, open_mode mode) {
  auto s = std::make_unique<impl>();
  s->path = path;
  s->mode = mode;
  std::error_code ec;
  if (mode == open_mode::read_only) {
    if (!std::filesystem::exists(path, ec))
      return caf::make_error(store_errc::not_found,
                             path + ": no journal database here (pass --db "
                                    "PATH, or run a scenario first)");
    if (!std::filesystem::is_regular_file(path, ec))
      return caf::make_error(store_errc::not_a_journal,
                             path + ": not a regular file");
  }
  if (auto err = connect(*s))
    return err;
  if (auto err = check_version(*s))
    return err;
  if (mode == open_mode::read_write) {
    // Only now that the file is known to be ours: WAL so readers never block
    // the writer, synchronous=FULL so a returned COMMIT is on disk.
    if (auto err = detail::use_wal(*s))
      return err;
    if (auto err = s->exec("PRAGMA synchronous = FULL", "configuring synchronous=FULL"))
      return err;
    if (auto err = prepare_writer(*s))
      return err;
  }
  return store{std::move(s)};
}

namespace {

std::string run_seq(const std::string& run_id, uint32_t seq) {
  return "run " + run_id + " seq " + std::to_string(seq);
}

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

// The cached cursor of `run_id`, read from its runs row and its last event
// on first use; nullptr when the run has no row yet.
caf::expected<run_cursor*> load_cursor(store::impl& s,
                                       const std::string& run_id) {
  if (auto i = s.cursors.find(run_id); i != s.cursors.end())
    return &i->second;
  auto& find = s.find_run_rowid;
  find.bind(1, run_id);
  auto rc = find.step();
  run_cursor c;
  if (rc == SQLITE_ROW)
    c = run_cursor{find.int_at(0), static_cast<uint32_t>(find.int_at(1)), {}};
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

} // namespace

caf::expected<uint32_t> store::last_seq(const std::string& run_id) {
  auto cursor = load_cursor(*impl_, run_id);
  if (!cursor)
    return std::move(cursor.error());
  return *cursor ? (*cursor)->last_seq : 0u;
}

namespace {

// Returns the run's cursor, inserting the run row on first sight. The run row
// takes its descriptive columns from the run_start event when there is one.
caf::expected<run_cursor*> ensure_run(store::impl& s, const sealed_event& ev) {
  auto& h = ev.header;
  auto found = load_cursor(s, h.run_id);
  if (!found || *found)
    return found;
  std::string agent, tenant;
  if (h.kind == event_kind::run_start) {
    auto full = decode(ev.bytes, "run " + h.run_id);
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
  c = run_cursor{sqlite3_last_insert_rowid(s.db), 0, *seed};
  return &c;
}

caf::error record_completion(store::impl& s, int64_t rowid,
                             const sealed_event& ev) {
  auto full = decode(ev.bytes, "run " + ev.header.run_id);
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

caf::error insert_event(store::impl& s, int64_t rowid, const sealed_event& ev,
                        const event_hash& hash) {
  auto& st = s.insert_event;
  st.bind(1, rowid);
  st.bind(2, static_cast<int64_t>(ev.header.seq));
  st.bind(3, to_string(ev.header.kind));
  st.bind(4, ev.header.ts_us);
  st.bind_blob(5, ev.bytes.data(), ev.bytes.size());
  st.bind(6, static_cast<int64_t>(checksum(ev.bytes.data(), ev.bytes.size())));
  st.bind_blob(7, hash.data(), hash.size());
  auto rc = st.step();
  st.reset();
  return rc == SQLITE_DONE ? caf::error{}
                           : s.fail(rc, "appending " + run_seq(ev.header.run_id,
                                                                ev.header.seq));
}

/// Where a run stands inside the open transaction.
struct pending_run {
  uint32_t last_seq = 0;
  event_hash last_hash{};
  int64_t last_ts_us = 0;
};

// Maps each run's cached cursor to its position inside the transaction; the
// cache itself only moves after COMMIT.
using touched_runs = std::unordered_map<run_cursor*, pending_run>;

// Writes one event at the next seq of its run, chained to the run's last hash.
caf::error write_event(store::impl& s, const sealed_event& ev,
                       touched_runs& touched) {
  auto cursor = ensure_run(s, ev);
  if (!cursor)
    return std::move(cursor.error());
  auto* c = *cursor;
  auto& run = touched
                .try_emplace(c, pending_run{c->last_seq, c->last_hash,
                                            ev.header.ts_us})
                .first->second;
  if (ev.header.seq != run.last_seq + 1)
    return caf::make_error(store_errc::sequence_gap,
                           s.path + ": run " + ev.header.run_id
                             + " expects seq " + std::to_string(run.last_seq + 1)
                             + ", got " + std::to_string(ev.header.seq));
  auto hash = chain_next(run.last_hash, ev.bytes.data(), ev.bytes.size());
  if (!hash)
    return std::move(hash.error());
  if (auto err = insert_event(s, c->rowid, ev, *hash))
    return err;
  run.last_seq = ev.header.seq;
  run.last_hash = *hash;
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

} // namespace

caf::error store::append(const std::vector<sealed_event>& batch,
                         std::vector<std::string>* refused) {
  auto& s = *impl_;
  if (batch.empty())
    return {};
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  std::vector<std::string> left_out;
  auto err = transact(s, "committing a journal batch", [&](touched_runs& touched) {
    // One ownership answer per run and batch: the transaction holds the
    // write lock, so no claim can slip in between the check and the write.
    std::unordered_map<std::string, bool> allowed;
    for (auto& ev : batch) {
      auto known = allowed.find(ev.header.run_id);
      if (known == allowed.end()) {
        auto may = detail::may_write(s, ev, now_us);
        if (!may)
          return std::move(may.error());
        known = allowed.emplace(ev.header.run_id, *may).first;
        if (!*may)
          left_out.push_back(ev.header.run_id);
      }
      if (!known->second)
        continue;
      if (auto err = write_event(s, ev, touched))
        return err;
      if (ev.header.kind == event_kind::completion)
        if (auto err = detail::release_run(s, ev.header.run_id))
          return err;
    }
    return caf::error{};
  });
  if (!err && refused != nullptr)
    *refused = std::move(left_out);
  return err;
}

namespace {

// Whether `ev` is the event stored at its (run, seq). Bytes decide; when they
// differ, the stored row may still be the same event laid out by an older
// encoder (segment sizes changed between builds), so it is re-encoded and
// compared once more. A stored row that does not decode differs.
caf::expected<bool> same_as_stored(store::impl& s, const run_cursor& c,
                                   const sealed_event& ev) {
  auto& st = s.find_event;
  st.bind(1, c.rowid);
  st.bind(2, static_cast<int64_t>(ev.header.seq));
  auto rc = st.step();
  event_bytes stored;
  if (rc == SQLITE_ROW) {
    auto p = static_cast<const char*>(st.blob_at(0));
    stored.assign(p, p + st.bytes_at(0));
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
  if (stored == ev.bytes)
    return true;
  auto old = decode(stored, where);
  return old && encode(*old) == ev.bytes;
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
    for (auto* ev : fresh)
      if (auto err = write_event(s, *ev, touched))
        return err;
    rep.written = fresh.size();
    return caf::error{};
  });
  if (err)
    return err;
  return rep;
}

} // namespace troupe::persistence
