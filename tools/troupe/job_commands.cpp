// `troupe jobs [--status S] [--tenant T] ...` and `troupe jobs requeue JOB`:
// the durable queue of `troupe serve` seen from the console, and its dead
// letters sent round again.

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/event_summary.hpp"
#include "persistence/job_store.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/serve_admin_commands.hpp"

namespace troupe::cli {

namespace {

using nlohmann::ordered_json;
using jobs::job_status;

// The names are literals (core/jobs/job.cpp): safe as C strings.
const char* status_name(job_status s) {
  return jobs::to_string(s).data();
}

const char* priority_name(jobs::job_priority p) {
  return jobs::to_string(p).data();
}

ordered_json job_json(const jobs::job& j) {
  return ordered_json{{"job_id", j.job_id},
                      {"run_id", j.run_id},
                      {"tenant", j.tenant},
                      {"key_id", j.key_id},
                      {"scenario", j.scenario},
                      {"task", j.task},
                      {"priority", priority_name(j.priority)},
                      {"labels", j.labels},
                      {"idempotency_key", j.idempotency_key},
                      {"status", status_name(j.status)},
                      {"seq", j.seq},
                      {"submitted_us", j.submitted_us},
                      {"deadline_us", j.deadline_us},
                      {"started_us", j.started_us},
                      {"ended_us", j.ended_us},
                      {"not_before_us", j.not_before_us},
                      {"attempts", j.attempts},
                      {"starts", j.starts},
                      {"sla_breached", j.sla_breached},
                      {"error", j.error}};
}

caf::error cli_error(persistence::store_errc code, std::string what) {
  return caf::make_error(code, std::move(what));
}

} // namespace

int jobs_list(const common_options& opts, const jobs_list_options& o) {
  persistence::job_filter f;
  f.tenant = o.tenant;
  f.limit = o.limit;
  f.cursor = o.cursor;
  if (!o.label.empty())
    f.label = o.label;
  if (!o.status.empty()) {
    f.status = jobs::job_status_from(o.status);
    if (!f.status)
      return report(cli_error(persistence::store_errc::invalid_argument,
                              "--status: unknown status '" + o.status
                                + "'; expected accepted, queued, running, completed, "
                                  "failed, canceled, expired or dead"));
  }
  auto store = persistence::job_store::open(opts.db, true);
  if (!store)
    return report(store.error());
  auto page = store->list(f);
  if (!page)
    return report(page.error());
  if (opts.json) {
    auto arr = ordered_json::array();
    for (auto& j : page->jobs)
      arr.push_back(job_json(j));
    // The shape of the API's JobPage (docs/openapi.yaml).
    ordered_json next = nullptr;
    if (!page->next_cursor.empty())
      next = page->next_cursor;
    std::cout << to_json_text(ordered_json{{"items", std::move(arr)},
                                           {"next_cursor", std::move(next)}})
              << std::endl;
    return exit_ok;
  }
  if (page->jobs.empty()) {
    std::printf("no jobs%s in %s\n", o.status.empty() ? "" : (" " + o.status).c_str(),
                opts.db.c_str());
    return exit_ok;
  }
  std::printf("%-24s %-16s %-9s %-6s %-8s %-23s %-28s %s\n", "JOB", "TENANT", "STATUS",
              "PRIO", "ATTEMPTS", "SUBMITTED (UTC)", "RUN", "ERROR");
  for (auto& j : page->jobs)
    std::printf("%-24s %-16s %-9s %-6s %-8u %-23s %-28s %s\n", j.job_id.c_str(),
                j.tenant.c_str(), status_name(j.status), priority_name(j.priority),
                j.attempts, format_timestamp(j.submitted_us).c_str(), j.run_id.c_str(),
                one_line(j.error, 60).c_str());
  if (!page->next_cursor.empty())
    std::printf("more: --cursor %s\n", page->next_cursor.c_str());
  return exit_ok;
}

int jobs_requeue(const common_options& opts, const std::string& job_id) {
  using persistence::store_errc;
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto store = persistence::job_store::open(opts.db);
  if (!store)
    return report(store.error());
  auto found = store->get(job_id);
  if (!found)
    return report(found.error());
  if (!*found)
    return report(cli_error(store_errc::unknown_id,
                            opts.db + ": no job " + job_id + " (list them with `troupe jobs`)"));
  auto j = **found;
  if (j.status != job_status::dead)
    return report(cli_error(store_errc::conflict,
                            opts.db + ": job " + job_id + " is " + status_name(j.status)
                              + ", not dead: only dead letters can be requeued"));
  auto attempts_before = j.attempts;
  j.status = job_status::queued;
  j.attempts = 0;
  j.started_us = 0;
  j.ended_us = 0;
  j.not_before_us = 0;
  j.sla_breached = false;
  j.error.clear();
  auto done = store->update(j, job_status::dead);
  if (!done)
    return report(done.error());
  if (!*done)
    return report(cli_error(store_errc::conflict,
                            opts.db + ": job " + job_id
                              + " changed while it was being requeued; look again with "
                                "`troupe jobs`"));
  auto tenants = persistence::tenant_store::open(opts.db);
  if (!tenants)
    return report(tenants.error());
  if (auto err = audit_console(*tenants, j.tenant, "job.requeue", job_id,
                               to_json_text(ordered_json{{"run_id", j.run_id},
                                                         {"attempts_before",
                                                          attempts_before}})))
    return report(err);
  std::printf("requeued job %s (run %s) of tenant %s\n", job_id.c_str(), j.run_id.c_str(),
              j.tenant.c_str());
  return exit_ok;
}

} // namespace troupe::cli
