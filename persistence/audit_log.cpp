// tenant_store's audit log: one row per state-changing call, with its
// principal, filtered by tenant for the tenant's own listing.

#include <nlohmann/json.hpp>

#include "persistence/detail/tenant_store_impl.hpp"

namespace troupe::persistence {

namespace {

constexpr uint32_t max_audit_page = 10000;

} // namespace

caf::expected<int64_t> tenant_store::append_audit(const audit_entry& e) {
  auto& c = *impl_->c;
  if (e.action.empty())
    return caf::make_error(store_errc::invalid_argument,
                           "an audit entry needs an action (target '" + e.target + "')");
  auto detail_text = e.detail_json.empty() ? std::string("{}") : e.detail_json;
  if (!nlohmann::json::accept(detail_text))
    return caf::make_error(store_errc::invalid_argument,
                           "the detail of audit entry " + e.action + " " + e.target
                             + " is not JSON: " + detail_text.substr(0, 80));
  detail::statement st;
  if (auto err = c.prepare(st, "INSERT INTO audit(ts_us, tenant, key_id, action, target, "
                               "detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           "appending to the audit log"))
    return err;
  st.bind(1, e.ts_us == 0 ? detail::wall_clock_us() : e.ts_us);
  st.bind(2, e.tenant);
  st.bind(3, e.key_id);
  st.bind(4, e.action);
  st.bind(5, e.target);
  st.bind(6, detail_text);
  if (auto rc = st.step(); rc != SQLITE_DONE)
    return c.fail(rc, "appending " + e.action + " to the audit log");
  return sqlite3_last_insert_rowid(c.db());
}

caf::expected<std::vector<audit_entry>> tenant_store::list_audit(const std::string& tenant,
                                                                 uint32_t limit) {
  auto& c = *impl_->c;
  if (limit < 1 || limit > max_audit_page)
    return caf::make_error(store_errc::invalid_argument,
                           "audit limit " + std::to_string(limit) + " is out of range 1.."
                             + std::to_string(max_audit_page));
  std::string sql = "SELECT id, ts_us, tenant, key_id, action, target, detail FROM audit";
  if (!tenant.empty())
    sql += " WHERE tenant = ?1";
  sql += " ORDER BY id DESC LIMIT ?2";
  detail::statement st;
  if (auto err = c.prepare(st, sql, "reading the audit log"))
    return err;
  st.bind(1, tenant);
  st.bind(2, static_cast<int64_t>(limit));
  std::vector<audit_entry> out;
  if (auto err = detail::each_row(c, st, "reading the audit log", [&]() -> caf::error {
        out.push_back({st.int_at(0), st.int_at(1), st.text_at(2), st.text_at(3),
                       st.text_at(4), st.text_at(5), st.text_at(6)});
        return {};
      }))
    return err;
  return out;
}

} // namespace troupe::persistence
