#pragma once
// The console side of `troupe serve`: `troupe tenants add|list|key-create|
// key-revoke|audit` and `troupe jobs [requeue]`, on the journal database the
// server uses (persistence/tenant_store.hpp, job_store.hpp). Every change is
// written to the audit log with the principal "console". docs/cli.md
// describes the commands.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/tenant_store.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

struct tenant_add_options {
  std::string name;
  uint32_t max_concurrent = 0; ///< 0: unlimited, as every quota
  uint32_t per_minute = 0;
  uint32_t max_queued = 0;
  uint64_t tokens_per_day = 0;
  double cost_per_month_usd = 0;
  std::string policy_file;
};

/// Adds a tenant (creating or migrating the journal when needed). Exit 64
/// for a bad name, a negative cost or a policy file that does not exist; 1
/// when the tenant exists.
int tenants_add(const common_options& opts, const tenant_add_options& t);

/// Replaces a tenant's quotas with the flags given (a flag left out is 0:
/// unlimited). Exit 64 for a negative cost, 1 for an unknown tenant.
int tenants_set_quota(const common_options& opts, const tenant_add_options& t);

/// Tenants with their quotas and keys (ids, roles, revoked or not; never a
/// secret). With --json, one array.
int tenants_list(const common_options& opts);

/// Creates a key of `tenant` with `role` (viewer, submitter, operator,
/// admin) and prints its token once: the token line, then a line saying it
/// will not be shown again. Exit 1 for an unknown tenant.
int tenants_key_create(const common_options& opts, const std::string& tenant,
                       const std::string& role);

/// Revokes a key by id. Exit 1 for an unknown or already revoked key.
int tenants_key_revoke(const common_options& opts, const std::string& key_id);

/// The newest audit entries, optionally one tenant's.
int tenants_audit(const common_options& opts, const std::string& tenant, uint32_t limit);

struct jobs_list_options {
  std::string status; ///< empty: every status
  std::string tenant; ///< empty: every tenant
  std::string label;  ///< empty: any
  uint32_t limit = 100;
  std::string cursor;
};

/// One page of jobs, newest first; the next page's cursor is printed (or in
/// JSON `next_cursor`) when there is more. Exit 64 for an unknown status or
/// a bad cursor.
int jobs_list(const common_options& opts, const jobs_list_options& o);

/// Writes the audit entry of a console change: principal "console".
[[nodiscard]] caf::error audit_console(persistence::tenant_store& tenants,
                                       const std::string& tenant, const std::string& action,
                                       const std::string& target,
                                       const std::string& detail_json);

/// Puts a dead job back in the queue (attempts reset) and audits it. Exit 1
/// when there is no such job or it is not dead.
int jobs_requeue(const common_options& opts, const std::string& job_id);

} // namespace troupe::cli
