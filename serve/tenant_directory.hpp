#pragma once
// Who is calling, and what their tenant may still do: API keys to
// principals, tenant quotas, submission rate buckets and the audit log,
// for the HTTP handlers on several threads at once.
//
// Lookups are cached for `ttl` (a key revoked with `troupe tenants
// key-revoke` stops working within that time; quota changes likewise); the
// cache is keyed by the SHA-256 of the whole token, never the token itself.
// Rate buckets live in memory: a restart refills them.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "core/jobs/quota.hpp"
#include "persistence/tenant_store.hpp"

namespace troupe::serve {

struct principal {
  std::string tenant;
  std::string key_id;
  jobs::role key_role = jobs::role::viewer;
  [[nodiscard]] std::string name() const { return tenant + "/" + key_id; }
};

class tenant_directory {
public:
  [[nodiscard]] static caf::expected<std::unique_ptr<tenant_directory>>
  open(const std::string& db_path, std::chrono::milliseconds ttl = std::chrono::milliseconds{2000});

  /// The principal of a bearer token; nothing for an unknown, malformed or
  /// revoked key. Errors: the database cannot be read.
  [[nodiscard]] caf::expected<std::optional<principal>> authenticate(const std::string& token);
  /// The tenant's quotas and policy file (defaults for an unknown tenant).
  [[nodiscard]] jobs::tenant settings(const std::string& tenant);
  [[nodiscard]] jobs::tenant_quota quota(const std::string& tenant) {
    return settings(tenant).quota;
  }
  /// Whether the tenant may submit one more job now (core/jobs/quota.hpp);
  /// an accepted one takes a token from its rate bucket.
  [[nodiscard]] jobs::submission_verdict admit(const std::string& tenant,
                                               const jobs::tenant_usage& usage, int64_t now_us);
  /// Journals a state-changing call (best effort: a failure is logged).
  void audit(const principal& who, const std::string& action, const std::string& target,
             const std::string& detail_json);

private:
  struct cached_key {
    std::optional<principal> who;
    std::chrono::steady_clock::time_point until;
  };
  struct cached_tenant {
    jobs::tenant settings;
    std::chrono::steady_clock::time_point until;
  };
  tenant_directory(persistence::tenant_store store, std::chrono::milliseconds ttl);

  std::mutex mu_;
  persistence::tenant_store store_;
  std::chrono::milliseconds ttl_;
  std::map<std::string, cached_key> keys_; ///< by SHA-256 of the token
  std::map<std::string, cached_tenant> tenants_;
  std::map<std::string, jobs::token_bucket> buckets_;
};

} // namespace troupe::serve
