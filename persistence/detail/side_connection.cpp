#include "persistence/detail/side_connection.hpp"

#include <chrono>
#include <filesystem>

#include "persistence/store.hpp"
#include "schemas/errors.hpp"

namespace troupe::persistence::detail {

namespace {

caf::expected<int64_t> pragma_int(const side_connection& c, const char* name) {
  statement st;
  std::string sql = std::string("PRAGMA ") + name;
  if (auto err = c.prepare(st, sql, std::string("reading ") + name))
    return err;
  if (auto rc = st.step(); rc != SQLITE_ROW)
    return c.fail(rc, std::string("reading ") + name);
  return st.int_at(0);
}

caf::error check_version(const side_connection& c, std::string_view what) {
  auto app = pragma_int(c, "application_id");
  if (!app)
    return std::move(app.error());
  auto version = pragma_int(c, "user_version");
  if (!version)
    return std::move(version.error());
  auto& path = c.path();
  if (*app != application_id)
    return caf::make_error(store_errc::not_a_journal,
                           path + ": not a troupe journal, so it holds no "
                             + std::string(what));
  if (*version > current_schema_version)
    return caf::make_error(store_errc::newer_schema,
                           path + ": journal schema version " + std::to_string(*version)
                             + " is newer than this troupe supports ("
                             + std::to_string(current_schema_version) + "); upgrade troupe");
  if (*version < current_schema_version)
    return caf::make_error(store_errc::needs_migration,
                           path + ": journal schema version " + std::to_string(*version)
                             + " has no " + std::string(what) + " (version "
                             + std::to_string(current_schema_version)
                             + " has); run `troupe migrate --db " + path + "`");
  return {};
}

} // namespace

side_connection::~side_connection() {
  if (db_ != nullptr)
    sqlite3_close_v2(db_);
}

caf::expected<std::unique_ptr<side_connection>>
side_connection::open(const std::string& path, std::string_view what, bool read_only) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return caf::make_error(store_errc::not_found,
                           path + ": no journal database here (pass --db PATH)");
  if (!std::filesystem::is_regular_file(path, ec))
    return caf::make_error(store_errc::not_a_journal, path + ": not a regular file");
  std::unique_ptr<side_connection> c{new side_connection};
  c->path_ = path;
  // No SQLITE_OPEN_CREATE: a typo in --db must not leave an empty file behind.
  if (auto rc = sqlite3_open_v2(path.c_str(), &c->db_,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      rc != SQLITE_OK)
    return c->fail(rc, "opening " + std::string(what));
  sqlite3_busy_timeout(c->db_, 5000);
  sqlite3_extended_result_codes(c->db_, 1);
  if (read_only) {
    // As store::open(read_only): a read-write handle (a crashed writer's WAL
    // index may need rebuilding), but no SQL may write and the last close
    // does not checkpoint, so the database file stays byte for byte.
    sqlite3_db_config(c->db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (auto rc = sqlite3_exec(c->db_, "PRAGMA query_only = 1", nullptr, nullptr, nullptr);
        rc != SQLITE_OK)
      return c->fail(rc, "making the connection read-only");
  }
  if (auto err = check_version(*c, what))
    return err;
  // synchronous is a property of the connection, not of the file: the journal
  // writer's FULL does not carry over, and SQLite's compiled-in default may be
  // NORMAL, under which a WAL commit returns before the WAL is synced, so the
  // last acknowledged submissions would vanish with a power loss. FULL syncs
  // the WAL at every COMMIT: a returned COMMIT is on disk.
  if (auto rc = sqlite3_exec(c->db_, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return c->fail(rc, "configuring synchronous=FULL");
  return c;
}

caf::error side_connection::fail(int rc, std::string_view doing) const {
  return sqlite_error(db_, rc, path_, doing);
}

caf::error side_connection::prepare(statement& st, std::string_view sql,
                                    std::string_view doing) const {
  if (auto rc = st.prepare(db_, sql); rc != SQLITE_OK)
    return fail(rc, doing);
  return {};
}

caf::error side_connection::transaction(std::string_view doing,
                                        const std::function<caf::error()>& body) {
  if (broken_)
    return caf::make_error(store_errc::io_error,
                           path_ + ": " + std::string(doing)
                             + " refused: an earlier commit failed (" + render(broken_)
                             + "); reopen the store");
  if (auto rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return fail(rc, doing);
  auto err = body();
  if (!err) {
    auto rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK)
      return {};
    err = fail(rc, std::string(doing) + " (COMMIT)");
    broken_ = err;
  }
  // Without an open transaction (SQLite already rolled back after an I/O
  // error) ROLLBACK fails; the first error is the one to report either way.
  ignore_error(sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK
                 ? caf::error{}
                 : fail(SQLITE_ERROR, "rolling back"),
               "the error that caused the rollback is reported");
  return err;
}

int64_t wall_clock_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

caf::error each_row(const side_connection& c, statement& st, std::string_view doing,
                    const std::function<caf::error()>& row) {
  int rc;
  while ((rc = st.step()) == SQLITE_ROW)
    if (auto err = row())
      return err;
  return rc == SQLITE_DONE ? caf::error{} : c.fail(rc, doing);
}

} // namespace troupe::persistence::detail
