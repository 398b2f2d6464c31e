#include "persistence/store.hpp"

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
caf::error check_version(store::impl& s) {
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

caf::error prepare_writer(store::impl& s) {
  struct {
    detail::statement* stmt;
    const char* sql;
  } all[] = {
    {&s.insert_event, "INSERT INTO events(run, seq, kind, ts_us, body, crc) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
    {&s.insert_run,
     "INSERT INTO runs(run_id, parent_run_id, root_run_id, agent, tenant, "
     "created_us, updated_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)"},
    {&s.find_run_rowid, "SELECT id, last_seq FROM runs WHERE run_id = ?1"},
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
    if (auto err = s->exec("PRAGMA journal_mode = WAL; "
                           "PRAGMA synchronous = FULL",
                           "configuring WAL and synchronous=FULL"))
      return err;
    if (auto err = prepare_writer(*s))
      return err;
  }
  return store{std::move(s)};
}

caf::expected<uint32_t> store::last_seq(const std::string& run_id) {
  auto& s = *impl_;
  if (auto i = s.cursors.find(run_id); i != s.cursors.end())
    return i->second.last_seq;
  auto& st = s.find_run_rowid;
  st.bind(1, run_id);
  auto rc = st.step();
  uint32_t result = 0;
  if (rc == SQLITE_ROW) {
    s.cursors[run_id] = run_cursor{st.int_at(0),
                                   static_cast<uint32_t>(st.int_at(1))};
    result = static_cast<uint32_t>(st.int_at(1));
  }
  st.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return s.fail(rc, "looking up run " + run_id);
  return result;
}

namespace {

// Returns the run's cursor, inserting the run row on first sight. The run row
// takes its descriptive columns from the run_start event when there is one.
caf::expected<run_cursor*> ensure_run(store::impl& s, const sealed_event& ev) {
  auto& h = ev.header;
  if (auto i = s.cursors.find(h.run_id); i != s.cursors.end())
    return &i->second;
  auto& find = s.find_run_rowid;
  find.bind(1, h.run_id);
  auto rc = find.step();
  if (rc == SQLITE_ROW) {
    auto& c = s.cursors[h.run_id];
    c = run_cursor{find.int_at(0), static_cast<uint32_t>(find.int_at(1))};
    find.reset();
    return &c;
  }
  find.reset();
  if (rc != SQLITE_DONE)
    return s.fail(rc, "looking up run " + h.run_id);
  std::string agent, tenant;
  if (h.kind == event_kind::run_start) {
    auto full = decode(ev.bytes, "run " + h.run_id);
    if (!full)
      return std::move(full.error());
    auto& start = std::get<run_start>(full->body);
    agent = start.agent;
    tenant = start.tenant;
  }
  auto& ins = s.insert_run;
  ins.bind(1, h.run_id);
  ins.bind(2, h.parent_run_id);
  ins.bind(3, h.root_run_id.empty() ? h.run_id : h.root_run_id);
  ins.bind(4, agent);
  ins.bind(5, tenant);
  ins.bind(6, h.ts_us);
  rc = ins.step();
  ins.reset();
  if (rc != SQLITE_DONE)
    return s.fail(rc, "inserting run " + h.run_id);
  auto& c = s.cursors[h.run_id];
  c = run_cursor{sqlite3_last_insert_rowid(s.db), 0};
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

caf::error insert_event(store::impl& s, int64_t rowid, const sealed_event& ev) {
  auto& st = s.insert_event;
  st.bind(1, rowid);
  st.bind(2, static_cast<int64_t>(ev.header.seq));
  st.bind(3, to_string(ev.header.kind));
  st.bind(4, ev.header.ts_us);
  st.bind_blob(5, ev.bytes.data(), ev.bytes.size());
  st.bind(6, static_cast<int64_t>(checksum(ev.bytes.data(), ev.bytes.size())));
  auto rc = st.step();
  st.reset();
  return rc == SQLITE_DONE
           ? caf::error{}
           : s.fail(rc, "appending run " + ev.header.run_id + " seq "
                          + std::to_string(ev.header.seq));
}

// `touched` maps each run's cached cursor to the last seq written in this
// transaction; the cache itself only moves after COMMIT.
using touched_runs = std::unordered_map<run_cursor*, uint32_t>;

caf::error write_batch(store::impl& s, const std::vector<sealed_event>& batch,
                       touched_runs& touched) {
  for (auto& ev : batch) {
    auto cursor = ensure_run(s, ev);
    if (!cursor)
      return std::move(cursor.error());
    auto rowid = (*cursor)->rowid;
    auto& last = touched.emplace(*cursor, (*cursor)->last_seq).first->second;
    if (ev.header.seq != last + 1)
      return caf::make_error(
        store_errc::sequence_gap,
        s.path + ": run " + ev.header.run_id + " expects seq "
          + std::to_string(last + 1) + ", got "
          + std::to_string(ev.header.seq));
    if (auto err = insert_event(s, rowid, ev))
      return err;
    last = ev.header.seq;
    if (ev.header.kind == event_kind::completion)
      if (auto err = record_completion(s, rowid, ev))
        return err;
  }
  auto& up = s.update_cursor;
  for (auto& [cursor, last] : touched) {
    up.bind(1, cursor->rowid);
    up.bind(2, static_cast<int64_t>(last));
    up.bind(3, batch.back().header.ts_us);
    auto rc = up.step();
    up.reset();
    if (rc != SQLITE_DONE)
      return s.fail(rc, "updating run positions");
  }
  return {};
}

} // namespace

caf::error store::append(const std::vector<sealed_event>& batch) {
  auto& s = *impl_;
  if (batch.empty())
    return {};
  if (auto err = s.exec("BEGIN IMMEDIATE", "starting a journal transaction"))
    return err;
  touched_runs touched;
  auto err = write_batch(s, batch, touched);
  if (!err)
    err = s.exec("COMMIT", "committing a journal batch");
  if (err) {
    troupe::ignore_error(s.exec("ROLLBACK", "rolling back a failed batch"),
                         "the failure that caused the rollback is reported");
    s.cursors.clear();
    return err;
  }
  for (auto& [cursor, last] : touched)
    cursor->last_seq = last;
  return {};
}

} // namespace troupe::persistence
