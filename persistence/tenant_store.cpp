#include "persistence/tenant_store.hpp"

#include <openssl/crypto.h>

#include "persistence/detail/api_token.hpp"
#include "persistence/detail/job_codes.hpp"
#include "persistence/detail/tenant_store_impl.hpp"

namespace troupe::persistence {

namespace {

constexpr const char* tenant_columns =
  "name, max_concurrent_runs, submissions_per_minute, tokens_per_day, "
  "cost_micro_usd_per_month, max_queued, policy_file, created_us";

constexpr const char* key_columns = "key_id, tenant, role, created_us, revoked_us";

jobs::tenant read_tenant(const detail::statement& st) {
  jobs::tenant t;
  t.name = st.text_at(0);
  t.quota.max_concurrent_runs = static_cast<uint32_t>(st.int_at(1));
  t.quota.submissions_per_minute = static_cast<uint32_t>(st.int_at(2));
  t.quota.tokens_per_day = static_cast<uint64_t>(st.int_at(3));
  t.quota.cost_micro_usd_per_month = static_cast<uint64_t>(st.int_at(4));
  t.quota.max_queued = static_cast<uint32_t>(st.int_at(5));
  t.policy_file = st.text_at(6);
  t.created_us = st.int_at(7);
  return t;
}

/// The current row of `st` (selected with key_columns first).
caf::expected<jobs::api_key> read_key(const detail::statement& st, const std::string& path) {
  jobs::api_key k;
  k.key_id = st.text_at(0);
  k.tenant = st.text_at(1);
  auto r = detail::role_from_text(st.text_at(2));
  if (!r)
    return caf::make_error(store_errc::corrupted,
                           path + ": API key " + k.key_id + " has role '" + st.text_at(2)
                             + "', which this troupe does not know");
  k.key_role = *r;
  k.created_us = st.int_at(3);
  k.revoked_us = st.int_at(4);
  return k;
}

void bind_quota(detail::statement& st, int first, const jobs::tenant_quota& q) {
  st.bind(first, static_cast<int64_t>(q.max_concurrent_runs));
  st.bind(first + 1, static_cast<int64_t>(q.submissions_per_minute));
  st.bind(first + 2, static_cast<int64_t>(q.tokens_per_day));
  st.bind(first + 3, static_cast<int64_t>(q.cost_micro_usd_per_month));
  st.bind(first + 4, static_cast<int64_t>(q.max_queued));
}

} // namespace

bool valid_tenant_name(std::string_view name) {
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > 63 || !lower_or_digit(name[0]))
    return false;
  for (auto c : name.substr(1))
    if (!lower_or_digit(c) && c != '_' && c != '-')
      return false;
  return true;
}

tenant_store::tenant_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
tenant_store::tenant_store(tenant_store&&) noexcept = default;
tenant_store& tenant_store::operator=(tenant_store&&) noexcept = default;
tenant_store::~tenant_store() = default;

caf::expected<tenant_store> tenant_store::open(const std::string& path, bool read_only) {
  auto c = detail::side_connection::open(path, "tenants and API keys", read_only);
  if (!c)
    return std::move(c.error());
  auto p = std::make_unique<impl>();
  p->c = std::move(*c);
  return tenant_store{std::move(p)};
}

// -- tenants ------------------------------------------------------------------

caf::expected<jobs::tenant> tenant_store::add_tenant(jobs::tenant t) {
  auto& c = *impl_->c;
  if (!valid_tenant_name(t.name))
    return caf::make_error(store_errc::invalid_argument,
                           "tenant name '" + t.name.substr(0, 80)
                             + "' is not valid: 1-63 characters, lowercase letters, "
                               "digits, '_' and '-', starting with a letter or digit");
  if (t.created_us == 0)
    t.created_us = detail::wall_clock_us();
  detail::statement st;
  if (auto err = c.prepare(st, "INSERT INTO tenants(name, max_concurrent_runs, "
                               "submissions_per_minute, tokens_per_day, "
                               "cost_micro_usd_per_month, max_queued, policy_file, "
                               "created_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           "adding a tenant"))
    return err;
  st.bind(1, t.name);
  bind_quota(st, 2, t.quota);
  st.bind(7, t.policy_file);
  st.bind(8, t.created_us);
  auto rc = st.step();
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    return caf::make_error(store_errc::conflict,
                           c.path() + ": tenant " + t.name + " exists already");
  if (rc != SQLITE_DONE)
    return c.fail(rc, "adding tenant " + t.name);
  return t;
}

caf::error tenant_store::update_quota(const std::string& name, const jobs::tenant_quota& q) {
  auto& c = *impl_->c;
  detail::statement st;
  if (auto err = c.prepare(st, "UPDATE tenants SET max_concurrent_runs = ?2, "
                               "submissions_per_minute = ?3, tokens_per_day = ?4, "
                               "cost_micro_usd_per_month = ?5, max_queued = ?6 "
                               "WHERE name = ?1",
                           "updating a tenant's quotas"))
    return err;
  st.bind(1, name);
  bind_quota(st, 2, q);
  if (auto rc = st.step(); rc != SQLITE_DONE)
    return c.fail(rc, "updating the quotas of tenant " + name);
  if (sqlite3_changes(c.db()) == 0)
    return caf::make_error(store_errc::unknown_id,
                           c.path() + ": no tenant " + name + " (list them with `troupe tenants list`)");
  return {};
}

caf::expected<std::optional<jobs::tenant>> tenant_store::get(const std::string& name) {
  auto& c = *impl_->c;
  detail::statement st;
  if (auto err = c.prepare(st, std::string("SELECT ") + tenant_columns
                                 + " FROM tenants WHERE name = ?1",
                           "reading a tenant"))
    return err;
  st.bind(1, name);
  std::optional<jobs::tenant> out;
  if (auto err = detail::each_row(c, st, "reading tenant " + name, [&]() -> caf::error {
        out = read_tenant(st);
        return {};
      }))
    return err;
  return out;
}

caf::expected<std::vector<jobs::tenant>> tenant_store::list() {
  auto& c = *impl_->c;
  detail::statement st;
  if (auto err = c.prepare(st, std::string("SELECT ") + tenant_columns
                                 + " FROM tenants ORDER BY name",
                           "listing tenants"))
    return err;
  std::vector<jobs::tenant> out;
  if (auto err = detail::each_row(c, st, "listing tenants", [&]() -> caf::error {
        out.push_back(read_tenant(st));
        return {};
      }))
    return err;
  return out;
}

// -- API keys -----------------------------------------------------------------

caf::expected<created_key> tenant_store::create_key(const std::string& tenant, jobs::role r) {
  auto& c = *impl_->c;
  auto fresh = detail::random_token();
  if (!fresh)
    return std::move(fresh.error());
  auto hash = detail::hash_secret(fresh->secret);
  if (!hash)
    return std::move(hash.error());
  created_key out;
  out.key = {fresh->key_id, tenant, r, detail::wall_clock_us(), 0};
  // The tenant's existence and the insert in one transaction: a key never
  // outlives the check that its tenant was there.
  auto err = c.transaction("creating an API key", [&]() -> caf::error {
    detail::statement st;
    if (auto err = c.prepare(st, "INSERT INTO api_keys(key_id, tenant, role, secret_hash, "
                                 "created_us) SELECT ?1, name, ?3, ?4, ?5 FROM tenants "
                                 "WHERE name = ?2",
                             "creating an API key"))
      return err;
    st.bind(1, out.key.key_id);
    st.bind(2, tenant);
    st.bind(3, detail::role_text(r));
    st.bind_blob(4, hash->data(), hash->size());
    st.bind(5, out.key.created_us);
    if (auto rc = st.step(); rc != SQLITE_DONE)
      return c.fail(rc, "creating an API key for tenant " + tenant);
    if (sqlite3_changes(c.db()) == 0)
      return caf::make_error(store_errc::unknown_id,
                             c.path() + ": no tenant " + tenant
                               + " (add it with `troupe tenants add " + tenant + "`)");
    return {};
  });
  if (err)
    return err;
  out.token = detail::format_token(*fresh);
  return out;
}

caf::expected<std::optional<jobs::api_key>> tenant_store::authenticate(std::string_view token) {
  auto& c = *impl_->c;
  auto parsed = detail::parse_token(token);
  if (!parsed)
    return std::optional<jobs::api_key>{};
  auto presented = detail::hash_secret(parsed->secret);
  if (!presented)
    return std::move(presented.error());
  detail::statement st;
  // The join refuses keys of tenants that are gone.
  if (auto err = c.prepare(st, "SELECT k.key_id, k.tenant, k.role, k.created_us, "
                               "k.revoked_us, k.secret_hash FROM api_keys k JOIN tenants t "
                               "ON t.name = k.tenant WHERE k.key_id = ?1",
                           "authenticating an API key"))
    return err;
  st.bind(1, parsed->key_id);
  std::optional<jobs::api_key> out;
  auto err = detail::each_row(c, st, "authenticating an API key", [&]() -> caf::error {
    // Constant time over the 32 bytes: how far a guess matches the stored
    // hash must not show in the response time.
    bool same = st.bytes_at(5) == presented->size()
                && CRYPTO_memcmp(st.blob_at(5), presented->data(), presented->size()) == 0;
    if (!same)
      return {};
    auto k = read_key(st, c.path());
    if (!k)
      return std::move(k.error());
    if (k->revoked_us == 0)
      out = std::move(*k);
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::error tenant_store::revoke_key(const std::string& key_id) {
  auto& c = *impl_->c;
  return c.transaction("revoking an API key", [&]() -> caf::error {
    detail::statement st;
    if (auto err = c.prepare(st, "SELECT revoked_us FROM api_keys WHERE key_id = ?1",
                             "revoking an API key"))
      return err;
    st.bind(1, key_id);
    auto rc = st.step();
    if (rc == SQLITE_DONE)
      return caf::make_error(store_errc::unknown_id,
                             c.path() + ": no API key " + key_id
                               + " (list them with `troupe tenants list`)");
    if (rc != SQLITE_ROW)
      return c.fail(rc, "revoking API key " + key_id);
    if (st.int_at(0) != 0)
      return caf::make_error(store_errc::conflict, c.path() + ": API key " + key_id
                                                     + " was revoked already");
    detail::statement up;
    if (auto err = c.prepare(up, "UPDATE api_keys SET revoked_us = ?2 WHERE key_id = ?1",
                             "revoking an API key"))
      return err;
    up.bind(1, key_id);
    up.bind(2, detail::wall_clock_us());
    if (auto urc = up.step(); urc != SQLITE_DONE)
      return c.fail(urc, "revoking API key " + key_id);
    return {};
  });
}

caf::expected<std::vector<jobs::api_key>> tenant_store::list_keys(const std::string& tenant) {
  auto& c = *impl_->c;
  detail::statement st;
  std::string sql = std::string("SELECT ") + key_columns + " FROM api_keys";
  if (!tenant.empty())
    sql += " WHERE tenant = ?1";
  sql += " ORDER BY id";
  if (auto err = c.prepare(st, sql, "listing API keys"))
    return err;
  st.bind(1, tenant);
  std::vector<jobs::api_key> out;
  if (auto err = detail::each_row(c, st, "listing API keys", [&]() -> caf::error {
        auto k = read_key(st, c.path());
        if (!k)
          return std::move(k.error());
        out.push_back(std::move(*k));
        return {};
      }))
    return err;
  return out;
}

} // namespace troupe::persistence
