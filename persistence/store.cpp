#include "persistence/store.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persistence/detail/batch_writer.hpp"
#include "persistence/writer_sql.hpp"

namespace troupe::persistence {

using detail::load_cursor;
using detail::touched_runs;
using detail::transact;
using detail::write_event;

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
    {&s.insert_event, writer_sql::insert_event},
    {&s.insert_run, writer_sql::insert_run},
    {&s.find_run_rowid,
     "SELECT id, last_seq, parent_run_id, root_run_id FROM runs WHERE run_id = ?1"},
    {&s.find_event,
     "SELECT body, hash, ts_us FROM events WHERE run = ?1 AND seq = ?2"},
    {&s.update_cursor, writer_sql::update_position},
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

caf::expected<store> store::open(const std::string& path, open_mode mode,
                                 const migration_progress& progress) {
  auto s = std::make_unique<impl>();
  s->path = path;
  s->mode = mode;
  s->progress = progress;
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

caf::expected<uint32_t> store::last_seq(const std::string& run_id) {
  auto cursor = load_cursor(*impl_, run_id);
  if (!cursor)
    return std::move(cursor.error());
  return *cursor ? (*cursor)->last_seq : 0u;
}

caf::error store::append(const std::vector<sealed_event>& batch,
                         std::vector<std::string>* refused) {
  auto& s = *impl_;
  if (batch.empty())
    return {};
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  std::vector<std::string> left_out;
  // Each run of the batch once: the index of its last event (where its chain
  // link goes) and whether this process may write it.
  struct run_in_batch {
    size_t last = 0;
    std::optional<bool> allowed;
  };
  std::unordered_map<std::string_view, run_in_batch> runs;
  for (size_t i = 0; i < batch.size(); ++i)
    runs[batch[i].header.run_id].last = i;
  std::vector<std::string_view> written, released;
  auto err = transact(s, "committing a journal batch", [&](touched_runs& touched) {
    // One ownership answer per run and batch: the transaction holds the
    // write lock, so no claim can slip in between the check and the write.
    if (auto err = detail::check_owned(s))
      return err;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& ev = batch[i];
      auto& run = runs[ev.header.run_id];
      if (!run.allowed) {
        auto may = detail::may_write(s, ev, now_us);
        if (!may)
          return std::move(may.error());
        run.allowed = *may;
        if (*may)
          written.push_back(ev.header.run_id);
        else
          left_out.push_back(ev.header.run_id);
      }
      if (!*run.allowed)
        continue;
      if (auto err = write_event(s, ev, touched, run.last == i))
        return err;
      if (ev.header.kind == event_kind::completion) {
        if (auto err = detail::release_run(s, ev.header.run_id))
          return err;
        released.push_back(ev.header.run_id);
      }
    }
    return caf::error{};
  });
  detail::remember_owned(s, !err, written, released);
  if (!err && refused != nullptr)
    *refused = std::move(left_out);
  return err;
}


} // namespace troupe::persistence
