#include "serve/tenant_directory.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "schemas/errors.hpp"

namespace troupe::serve {

namespace {

std::string digest(const std::string& token) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

} // namespace

tenant_directory::tenant_directory(persistence::tenant_store store, std::chrono::milliseconds ttl)
  : store_(std::move(store)), ttl_(ttl) {}

caf::expected<std::unique_ptr<tenant_directory>>
tenant_directory::open(const std::string& db_path, std::chrono::milliseconds ttl) {
  auto store = persistence::tenant_store::open(db_path);
  if (!store)
    return std::move(store.error());
  return std::unique_ptr<tenant_directory>(new tenant_directory(std::move(*store), ttl));
}

caf::expected<std::optional<principal>> tenant_directory::authenticate(const std::string& token) {
  auto key = digest(token);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard{mu_};
  if (auto i = keys_.find(key); i != keys_.end() && i->second.until > now)
    return i->second.who;
  auto found = store_.authenticate(token);
  if (!found)
    return std::move(found.error());
  std::optional<principal> who;
  if (*found)
    who = principal{(*found)->tenant, (*found)->key_id, (*found)->key_role};
  if (keys_.size() > 100000)
    keys_.clear(); // a flood of bad tokens must not grow memory without bound
  keys_[key] = cached_key{who, now + ttl_};
  return who;
}

jobs::tenant tenant_directory::settings(const std::string& tenant) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard{mu_};
  if (auto i = tenants_.find(tenant); i != tenants_.end() && i->second.until > now)
    return i->second.settings;
  auto found = store_.get(tenant);
  jobs::tenant t;
  t.name = tenant;
  if (found && *found)
    t = **found;
  else if (!found)
    spdlog::error("tenant {}: cannot read its settings: {}", tenant, render(found.error()));
  tenants_[tenant] = cached_tenant{t, now + ttl_};
  return t;
}

jobs::submission_verdict tenant_directory::admit(const std::string& tenant,
                                                 const jobs::tenant_usage& usage,
                                                 int64_t now_us) {
  auto q = quota(tenant);
  std::lock_guard<std::mutex> guard{mu_};
  return jobs::check_submission(q, usage, buckets_[tenant], now_us);
}

void tenant_directory::audit(const principal& who, const std::string& action,
                             const std::string& target, const std::string& detail_json) {
  persistence::audit_entry row;
  row.ts_us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  row.tenant = who.tenant;
  row.key_id = who.key_id;
  row.action = action;
  row.target = target;
  row.detail_json = detail_json;
  std::lock_guard<std::mutex> guard{mu_};
  if (auto id = store_.append_audit(row); !id)
    spdlog::error("audit of {} {} by {}: {}", action, target, who.name(), render(id.error()));
}

} // namespace troupe::serve
