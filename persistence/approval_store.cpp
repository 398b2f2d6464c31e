#include "persistence/approval_store.hpp"

#include <filesystem>

#include "persistence/detail/sqlite.hpp"

namespace troupe::persistence {

namespace {

constexpr const char* columns =
  "run_id, call_id, tool, args_json, rule, requested_us, deadline_us, status, "
  "decided_by, reason, decided_us";

approval_status status_of(const std::string& s) {
  if (s == "approved")
    return approval_status::approved;
  if (s == "denied")
    return approval_status::denied;
  if (s == "timed_out")
    return approval_status::timed_out;
  return approval_status::pending;
}

approval_row read_row(const detail::statement& st) {
  approval_row r;
  r.run_id = st.text_at(0);
  r.call_id = st.text_at(1);
  r.tool = st.text_at(2);
  r.args_json = st.text_at(3);
  r.rule = st.text_at(4);
  r.requested_us = st.int_at(5);
  r.deadline_us = st.int_at(6);
  r.status = status_of(st.text_at(7));
  r.decided_by = st.text_at(8);
  r.reason = st.text_at(9);
  r.decided_us = st.int_at(10);
  return r;
}

} // namespace

std::string_view to_string(approval_status s) {
  switch (s) {
    case approval_status::pending:
      return "pending";
    case approval_status::approved:
      return "approved";
    case approval_status::denied:
      return "denied";
    case approval_status::timed_out:
      return "timed_out";
  }
  return "pending";
}

struct approval_store::impl {
  std::string path;
  sqlite3* db = nullptr;
  ~impl() {
    if (db != nullptr)
      sqlite3_close_v2(db);
  }
  caf::error fail(int rc, std::string_view doing) const {
    return detail::sqlite_error(db, rc, path, doing);
  }
  caf::expected<std::vector<approval_row>> select(const std::string& where,
                                                  const std::vector<std::string>& text_args,
                                                  int64_t int_arg = 0) {
    detail::statement st;
    auto sql = std::string("SELECT ") + columns + " FROM approvals " + where;
    if (auto rc = st.prepare(db, sql); rc != SQLITE_OK)
      return fail(rc, "reading approvals");
    int i = 1;
    for (auto& a : text_args)
      st.bind(i++, a);
    if (int_arg != 0)
      st.bind(i, int_arg);
    std::vector<approval_row> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      out.push_back(read_row(st));
    if (rc != SQLITE_DONE)
      return fail(rc, "reading approvals");
    return out;
  }
};

approval_store::approval_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
approval_store::approval_store(approval_store&&) noexcept = default;
approval_store& approval_store::operator=(approval_store&&) noexcept = default;
approval_store::~approval_store() = default;

caf::expected<approval_store> approval_store::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return caf::make_error(store_errc::not_found,
                           path + ": no journal database here (pass --db PATH)");
  auto p = std::make_unique<impl>();
  p->path = path;
  if (auto rc = sqlite3_open_v2(path.c_str(), &p->db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      rc != SQLITE_OK)
    return p->fail(rc, "opening the approvals");
  sqlite3_busy_timeout(p->db, 5000);
  detail::statement probe;
  if (auto rc = probe.prepare(p->db, "SELECT count(*) FROM approvals"); rc != SQLITE_OK)
    return caf::make_error(store_errc::needs_migration,
                           path + ": no approvals table (" + sqlite3_errmsg(p->db)
                             + "); open the journal with this troupe once "
                               "(`troupe migrate --db " + path + "`)");
  return approval_store{std::move(p)};
}

caf::expected<approval_row> approval_store::request(const approval_row& row) {
  auto& s = *impl_;
  detail::statement st;
  if (auto rc = st.prepare(s.db, "INSERT OR IGNORE INTO approvals(run_id, call_id, "
                                 "tool, args_json, rule, requested_us, deadline_us, "
                                 "status) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')");
      rc != SQLITE_OK)
    return s.fail(rc, "recording an approval request");
  st.bind(1, row.run_id);
  st.bind(2, row.call_id);
  st.bind(3, row.tool);
  st.bind(4, row.args_json);
  st.bind(5, row.rule);
  st.bind(6, row.requested_us);
  st.bind(7, row.deadline_us);
  if (auto rc = st.step(); rc != SQLITE_DONE)
    return s.fail(rc, "recording an approval request");
  auto found = find(row.run_id, row.call_id);
  if (!found)
    return std::move(found.error());
  return **found;
}

caf::error approval_store::decide(const std::string& run_id, const std::string& call_id,
                                  bool approved, const std::string& by,
                                  const std::string& reason, int64_t now_us) {
  auto& s = *impl_;
  detail::statement st;
  if (auto rc = st.prepare(s.db, "UPDATE approvals SET status = ?3, decided_by = ?4, "
                                 "reason = ?5, decided_us = ?6 WHERE run_id = ?1 AND "
                                 "call_id = ?2 AND status = 'pending'");
      rc != SQLITE_OK)
    return s.fail(rc, "deciding an approval");
  st.bind(1, run_id);
  st.bind(2, call_id);
  st.bind(3, approved ? std::string_view{"approved"} : std::string_view{"denied"});
  st.bind(4, by);
  st.bind(5, reason);
  st.bind(6, now_us);
  if (auto rc = st.step(); rc != SQLITE_DONE)
    return s.fail(rc, "deciding an approval");
  if (sqlite3_changes(s.db) == 1)
    return {};
  auto existing = find(run_id, call_id);
  if (!existing)
    return std::move(existing.error());
  if (!*existing)
    return caf::make_error(store_errc::unknown_run,
                           s.path + ": no approval request for run " + run_id
                             + " call " + call_id + " (list them with `troupe approvals`)");
  return caf::make_error(store_errc::io_error,
                         s.path + ": run " + run_id + " call " + call_id
                           + " was already decided: "
                           + std::string(to_string((*existing)->status)) + " by "
                           + (*existing)->decided_by);
}

caf::expected<std::vector<approval_row>> approval_store::expire(int64_t now_us) {
  auto& s = *impl_;
  if (auto rc = sqlite3_exec(s.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return s.fail(rc, "expiring approvals");
  auto due = s.select("WHERE status = 'pending' AND deadline_us <= ?1", {}, now_us);
  if (due && !due->empty()) {
    detail::statement st;
    auto rc = st.prepare(s.db, "UPDATE approvals SET status = 'timed_out', decided_by = "
                               "'timeout', reason = 'no decision before the deadline', "
                               "decided_us = ?1 WHERE status = 'pending' AND "
                               "deadline_us <= ?1");
    if (rc == SQLITE_OK) {
      st.bind(1, now_us);
      rc = st.step();
    }
    if (rc != SQLITE_DONE) {
      sqlite3_exec(s.db, "ROLLBACK", nullptr, nullptr, nullptr);
      return s.fail(rc, "expiring approvals");
    }
    for (auto& r : *due) {
      r.status = approval_status::timed_out;
      r.decided_by = "timeout";
      r.reason = "no decision before the deadline";
      r.decided_us = now_us;
    }
  }
  if (auto rc = sqlite3_exec(s.db, due ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return s.fail(rc, "expiring approvals");
  return due;
}

caf::expected<std::optional<approval_row>>
approval_store::find(const std::string& run_id, const std::string& call_id) {
  auto rows = impl_->select("WHERE run_id = ?1 AND call_id = ?2", {run_id, call_id});
  if (!rows)
    return std::move(rows.error());
  if (rows->empty())
    return std::optional<approval_row>{};
  return std::optional<approval_row>{rows->front()};
}

caf::expected<std::vector<approval_row>> approval_store::pending() {
  return impl_->select("WHERE status = 'pending' ORDER BY requested_us, id", {});
}

} // namespace troupe::persistence
