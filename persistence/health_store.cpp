#include "persistence/health_store.hpp"

#include <filesystem>

#include "persistence/detail/sqlite.hpp"

namespace troupe::persistence {

struct health_store::impl {
  std::string path;
  sqlite3* db = nullptr;
  ~impl() {
    if (db != nullptr)
      sqlite3_close_v2(db);
  }
  caf::error fail(int rc, std::string_view doing) const {
    return detail::sqlite_error(db, rc, path, doing);
  }
};

health_store::health_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
health_store::health_store(health_store&&) noexcept = default;
health_store& health_store::operator=(health_store&&) noexcept = default;
health_store::~health_store() = default;

caf::expected<health_store> health_store::open(const std::string& path, bool read_only) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return caf::make_error(store_errc::not_found,
                           path + ": no journal database here (pass --db PATH)");
  auto p = std::make_unique<impl>();
  p->path = path;
  auto mode = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (auto rc = sqlite3_open_v2(path.c_str(), &p->db, mode | SQLITE_OPEN_NOMUTEX, nullptr);
      rc != SQLITE_OK)
    return p->fail(rc, "opening the endpoint health");
  sqlite3_busy_timeout(p->db, 5000);
  detail::statement probe;
  if (auto rc = probe.prepare(p->db, "SELECT count(*) FROM endpoint_health"); rc != SQLITE_OK)
    return caf::make_error(store_errc::needs_migration,
                           path + ": no endpoint_health table (" + sqlite3_errmsg(p->db)
                             + "); open the journal with this troupe once "
                               "(`troupe migrate --db " + path + "`)");
  return health_store{std::move(p)};
}

caf::error health_store::save(const std::vector<health_row>& rows) {
  auto& s = *impl_;
  if (auto rc = sqlite3_exec(s.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return s.fail(rc, "saving endpoint health");
  detail::statement st;
  auto rc = st.prepare(s.db, "INSERT INTO endpoint_health(key, updated_us, health) "
                             "VALUES(?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET "
                             "updated_us = excluded.updated_us, health = excluded.health");
  for (size_t i = 0; rc == SQLITE_OK && i < rows.size(); ++i) {
    st.bind(1, rows[i].key);
    st.bind(2, rows[i].updated_us);
    st.bind_blob(3, rows[i].document.data(), rows[i].document.size());
    rc = st.step();
    st.reset();
    if (rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) {
    auto err = s.fail(rc, "saving endpoint health");
    sqlite3_exec(s.db, "ROLLBACK", nullptr, nullptr, nullptr);
    return err;
  }
  if (auto commit = sqlite3_exec(s.db, "COMMIT", nullptr, nullptr, nullptr);
      commit != SQLITE_OK) {
    auto err = s.fail(commit, "saving endpoint health");
    sqlite3_exec(s.db, "ROLLBACK", nullptr, nullptr, nullptr);
    return err;
  }
  return {};
}

caf::expected<std::vector<health_row>> health_store::load() {
  auto& s = *impl_;
  detail::statement st;
  if (auto rc = st.prepare(s.db, "SELECT key, updated_us, health FROM endpoint_health "
                                 "ORDER BY key");
      rc != SQLITE_OK)
    return s.fail(rc, "reading endpoint health");
  std::vector<health_row> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto p = static_cast<const char*>(st.blob_at(2));
    out.push_back({st.text_at(0), st.int_at(1), std::string(p ? p : "", st.bytes_at(2))});
  }
  if (rc != SQLITE_DONE)
    return s.fail(rc, "reading endpoint health");
  return out;
}

} // namespace troupe::persistence
