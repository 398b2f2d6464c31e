#pragma once
// Tenants, their API keys and the audit log of `troupe serve`, in the
// journal database (schema version 7, docs/journal-format.md). Each store is
// its own connection and is not thread-safe; writes return after a durable
// COMMIT (synchronous=FULL).
//
// Keys: a token is shown once, when it is created, and never stored; the
// table keeps its public key id and SHA-256 of its secret, and
// `authenticate` compares hashes in constant time.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "persistence/store_errc.hpp"

namespace troupe::persistence {

/// A key as created: `token` is the only copy of the secret there will be.
struct created_key {
  jobs::api_key key;
  std::string token; ///< "trp_<key_id>_<secret>"
};

/// One row of the audit log: who (tenant, key id; "console" for the CLI)
/// did what to which target.
struct audit_entry {
  int64_t id = 0; ///< given by the store
  int64_t ts_us = 0;
  std::string tenant;
  std::string key_id;
  std::string action; ///< e.g. "job.submit", "job.cancel", "key.create"
  std::string target; ///< e.g. a job id, a key id
  std::string detail_json = "{}";
};

/// Whether `name` is a tenant name: [a-z0-9][a-z0-9_-]{0,62}.
[[nodiscard]] bool valid_tenant_name(std::string_view name);

class tenant_store {
public:
  /// Opens the tables of the journal at `path`, which must exist at the
  /// current schema version. Errors: not_found, not_a_journal,
  /// needs_migration, newer_schema. A `read_only` store (the console's
  /// listings) fails every write and leaves the file untouched.
  [[nodiscard]] static caf::expected<tenant_store> open(const std::string& path,
                                                        bool read_only = false);

  tenant_store(tenant_store&&) noexcept;
  tenant_store& operator=(tenant_store&&) noexcept;
  ~tenant_store();

  // -- tenants ----------------------------------------------------------------

  /// Adds a tenant (created_us 0: the clock). invalid_argument for a bad
  /// name, conflict when it exists.
  [[nodiscard]] caf::expected<jobs::tenant> add_tenant(jobs::tenant t);

  /// Replaces the tenant's quotas; unknown_id when there is no such tenant.
  [[nodiscard]] caf::error update_quota(const std::string& name, const jobs::tenant_quota& q);

  [[nodiscard]] caf::expected<std::optional<jobs::tenant>> get(const std::string& name);

  /// Every tenant, by name.
  [[nodiscard]] caf::expected<std::vector<jobs::tenant>> list();

  // -- API keys ---------------------------------------------------------------

  /// A new random key of `tenant` with role `r`; unknown_id when the tenant
  /// does not exist.
  [[nodiscard]] caf::expected<created_key> create_key(const std::string& tenant, jobs::role r);

  /// The key `token` belongs to, or none: a token not of the exact format,
  /// an unknown key id, a wrong secret, a revoked key and a key whose tenant
  /// is gone all give none, alike. Errors only when the database fails.
  [[nodiscard]] caf::expected<std::optional<jobs::api_key>>
  authenticate(std::string_view token);

  /// Revokes a key from now on; unknown_id when there is none, conflict when
  /// it was revoked already.
  [[nodiscard]] caf::error revoke_key(const std::string& key_id);

  /// The keys of `tenant` (empty: of every tenant), revoked ones included,
  /// oldest first.
  [[nodiscard]] caf::expected<std::vector<jobs::api_key>> list_keys(const std::string& tenant);

  // -- audit ------------------------------------------------------------------

  /// Appends `e` (ts_us 0: the clock; an empty detail: "{}") and returns its
  /// id. invalid_argument when there is no action or the detail is not JSON.
  [[nodiscard]] caf::expected<int64_t> append_audit(const audit_entry& e);

  /// The newest `limit` (1..10000) entries, newest first; with a tenant,
  /// only that tenant's.
  [[nodiscard]] caf::expected<std::vector<audit_entry>>
  list_audit(const std::string& tenant, uint32_t limit);

  struct impl;

private:
  explicit tenant_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
