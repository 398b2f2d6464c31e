// `troupe tenants add|list|key-create|key-revoke|audit`.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/event_summary.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/serve_admin_commands.hpp"

namespace troupe::cli {

namespace {

using nlohmann::ordered_json;

const char* role_name(jobs::role r) {
  return jobs::to_string(r).data(); // the names are literals
}

ordered_json quota_json(const jobs::tenant_quota& q) {
  return ordered_json{{"max_concurrent_runs", q.max_concurrent_runs},
                      {"submissions_per_minute", q.submissions_per_minute},
                      {"max_queued", q.max_queued},
                      {"tokens_per_day", q.tokens_per_day},
                      {"cost_micro_usd_per_month", q.cost_micro_usd_per_month}};
}

ordered_json key_json(const jobs::api_key& k) {
  return ordered_json{{"key_id", k.key_id},
                      {"tenant", k.tenant},
                      {"role", role_name(k.key_role)},
                      {"created_us", k.created_us},
                      {"revoked_us", k.revoked_us}};
}

std::string limit_text(uint64_t x) {
  return x == 0 ? "-" : std::to_string(x);
}

/// Micro-dollars as dollars without trailing zeros ("12.5"); "-" for 0.
std::string dollars_text(uint64_t micro_usd) {
  if (micro_usd == 0)
    return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", static_cast<double>(micro_usd) / 1e6);
  std::string s = buf;
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.')
    s.pop_back();
  return s;
}

caf::error usage_error(std::string what) {
  return caf::make_error(persistence::store_errc::invalid_argument, std::move(what));
}

// `tenants add` is the first step of setting a server up: it may create the
// journal, or bring an older one to this schema, as the journal writer does.
caf::expected<persistence::tenant_store> open_for_tenant_add(const std::string& db) {
  if (auto err = check_db_path(db))
    return err;
  {
    auto journal = persistence::store::open(db, persistence::open_mode::read_write);
    if (!journal)
      return std::move(journal.error());
  }
  return persistence::tenant_store::open(db);
}

} // namespace

caf::error audit_console(persistence::tenant_store& tenants, const std::string& tenant,
                         const std::string& action, const std::string& target,
                         const std::string& detail_json) {
  persistence::audit_entry e;
  e.tenant = tenant;
  e.key_id = "console";
  e.action = action;
  e.target = target;
  e.detail_json = detail_json;
  auto id = tenants.append_audit(e);
  if (!id)
    return caf::make_error(persistence::store_errc::io_error,
                           action + " " + target + " was done, but its audit entry was not "
                             "written: " + render(id.error()));
  return {};
}

namespace {

// The quota flags of `tenants add` and `tenants set-quota`, checked.
caf::expected<jobs::tenant_quota> quota_of(const tenant_add_options& o) {
  if (!std::isfinite(o.cost_per_month_usd) || o.cost_per_month_usd < 0
      || o.cost_per_month_usd > 1e12)
    return usage_error("--cost-per-month-usd: expected dollars from 0 (unlimited) up, got "
                       + std::to_string(o.cost_per_month_usd));
  jobs::tenant_quota q;
  q.max_concurrent_runs = o.max_concurrent;
  q.submissions_per_minute = o.per_minute;
  q.max_queued = o.max_queued;
  q.tokens_per_day = o.tokens_per_day;
  q.cost_micro_usd_per_month = static_cast<uint64_t>(std::llround(o.cost_per_month_usd * 1e6));
  return q;
}

} // namespace

int tenants_add(const common_options& opts, const tenant_add_options& o) {
  if (!persistence::valid_tenant_name(o.name))
    return report(usage_error("tenant name '" + o.name
                              + "' is not valid: 1-63 characters, lowercase letters, "
                                "digits, '_' and '-', starting with a letter or digit"));
  auto quota = quota_of(o);
  if (!quota)
    return report(quota.error());
  std::error_code ec;
  if (!o.policy_file.empty() && !std::filesystem::is_regular_file(o.policy_file, ec))
    return report(usage_error("--policy " + o.policy_file + ": no such file"));
  auto tenants = open_for_tenant_add(opts.db);
  if (!tenants)
    return report(tenants.error());
  jobs::tenant t;
  t.name = o.name;
  t.quota = *quota;
  if (!o.policy_file.empty())
    t.policy_file = std::filesystem::absolute(o.policy_file, ec).string();
  auto added = tenants->add_tenant(t);
  if (!added)
    return report(added.error());
  if (auto err = audit_console(*tenants, t.name, "tenant.add", t.name,
                               to_json_text(ordered_json{{"quota", quota_json(t.quota)},
                                                         {"policy_file", t.policy_file}})))
    return report(err);
  std::printf("added tenant %s to %s\n", t.name.c_str(), opts.db.c_str());
  return exit_ok;
}

int tenants_set_quota(const common_options& opts, const tenant_add_options& o) {
  auto quota = quota_of(o);
  if (!quota)
    return report(quota.error());
  auto tenants = persistence::tenant_store::open(opts.db);
  if (!tenants)
    return report(tenants.error());
  if (auto err = tenants->update_quota(o.name, *quota))
    return report(err);
  if (auto err = audit_console(*tenants, o.name, "tenant.set_quota", o.name,
                               to_json_text(ordered_json{{"quota", quota_json(*quota)}})))
    return report(err);
  std::printf("set the quotas of tenant %s (a running server applies them within 2 s)\n",
              o.name.c_str());
  return exit_ok;
}

int tenants_list(const common_options& opts) {
  auto tenants = persistence::tenant_store::open(opts.db, true);
  if (!tenants)
    return report(tenants.error());
  auto all = tenants->list();
  if (!all)
    return report(all.error());
  auto keys = tenants->list_keys("");
  if (!keys)
    return report(keys.error());
  if (opts.json) {
    auto arr = ordered_json::array();
    for (auto& t : *all) {
      auto ks = ordered_json::array();
      for (auto& k : *keys)
        if (k.tenant == t.name)
          ks.push_back(key_json(k));
      arr.push_back({{"name", t.name}, {"quota", quota_json(t.quota)},
                     {"policy_file", t.policy_file}, {"created_us", t.created_us},
                     {"keys", std::move(ks)}});
    }
    std::cout << to_json_text(arr) << std::endl;
    return exit_ok;
  }
  if (all->empty()) {
    std::printf("no tenants in %s (add one with `troupe tenants add NAME`)\n", opts.db.c_str());
    return exit_ok;
  }
  std::printf("%-20s %-10s %-8s %-8s %-12s %-12s %s\n", "TENANT", "CONCURRENT", "PER-MIN",
              "QUEUED", "TOKENS/DAY", "USD/MONTH", "POLICY");
  for (auto& t : *all) {
    auto& q = t.quota;
    auto usd = dollars_text(q.cost_micro_usd_per_month);
    std::printf("%-20s %-10s %-8s %-8s %-12s %-12s %s\n", t.name.c_str(),
                limit_text(q.max_concurrent_runs).c_str(),
                limit_text(q.submissions_per_minute).c_str(), limit_text(q.max_queued).c_str(),
                limit_text(q.tokens_per_day).c_str(), usd.c_str(),
                t.policy_file.empty() ? "(scenario's)" : t.policy_file.c_str());
    for (auto& k : *keys)
      if (k.tenant == t.name)
        std::printf("  key %s  %-9s  created %s%s\n", k.key_id.c_str(), role_name(k.key_role),
                    format_timestamp(k.created_us).c_str(),
                    k.revoked_us == 0
                      ? ""
                      : ("  revoked " + format_timestamp(k.revoked_us)).c_str());
  }
  return exit_ok;
}

int tenants_key_create(const common_options& opts, const std::string& tenant,
                       const std::string& role) {
  auto r = jobs::role_from(role);
  if (!r)
    return report(usage_error("--role: unknown role '" + role
                              + "'; expected viewer, submitter, operator or admin"));
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto tenants = persistence::tenant_store::open(opts.db);
  if (!tenants)
    return report(tenants.error());
  auto created = tenants->create_key(tenant, *r);
  if (!created)
    return report(created.error());
  if (auto err = audit_console(*tenants, tenant, "key.create", created->key.key_id,
                               to_json_text(ordered_json{{"role", role_name(*r)}})))
    return report(err);
  std::printf("%s\n", created->token.c_str());
  std::printf("key %s of tenant %s, role %s: the token above will not be shown again; "
              "store it now\n",
              created->key.key_id.c_str(), tenant.c_str(), role_name(*r));
  return exit_ok;
}

int tenants_key_revoke(const common_options& opts, const std::string& key_id) {
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto tenants = persistence::tenant_store::open(opts.db);
  if (!tenants)
    return report(tenants.error());
  if (auto err = tenants->revoke_key(key_id))
    return report(err);
  std::string tenant;
  if (auto keys = tenants->list_keys(""))
    for (auto& k : *keys)
      if (k.key_id == key_id)
        tenant = k.tenant;
  if (auto err = audit_console(*tenants, tenant, "key.revoke", key_id, "{}"))
    return report(err);
  std::printf("revoked key %s of tenant %s\n", key_id.c_str(), tenant.c_str());
  return exit_ok;
}

int tenants_audit(const common_options& opts, const std::string& tenant, uint32_t limit) {
  auto tenants = persistence::tenant_store::open(opts.db, true);
  if (!tenants)
    return report(tenants.error());
  auto rows = tenants->list_audit(tenant, limit);
  if (!rows)
    return report(rows.error());
  if (opts.json) {
    auto arr = ordered_json::array();
    for (auto& e : *rows) {
      // The store checks details when it writes them; a row written by
      // hand is shown as its text.
      auto detail = ordered_json::parse(e.detail_json, nullptr, false);
      if (detail.is_discarded())
        detail = e.detail_json;
      arr.push_back({{"id", e.id}, {"ts_us", e.ts_us}, {"tenant", e.tenant},
                     {"key_id", e.key_id}, {"action", e.action}, {"target", e.target},
                     {"detail", std::move(detail)}});
    }
    std::cout << to_json_text(arr) << std::endl;
    return exit_ok;
  }
  if (rows->empty()) {
    std::printf("no audit entries%s in %s\n",
                tenant.empty() ? "" : (" of tenant " + tenant).c_str(), opts.db.c_str());
    return exit_ok;
  }
  std::printf("%-23s %-16s %-20s %-16s %-24s %s\n", "TIME (UTC)", "TENANT", "KEY", "ACTION",
              "TARGET", "DETAIL");
  for (auto& e : *rows)
    std::printf("%-23s %-16s %-20s %-16s %-24s %s\n", format_timestamp(e.ts_us).c_str(),
                e.tenant.c_str(), e.key_id.c_str(), e.action.c_str(), e.target.c_str(),
                one_line(e.detail_json, 60).c_str());
  return exit_ok;
}

} // namespace troupe::cli
