// runs, show, export, doctor, migrate: the read side of the replay console.
// Read commands open the journal read-only, so an error never writes.

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sandbox/sandbox_process.hpp"
#include "persistence/store.hpp"
#include "core/event_summary.hpp"
#include "core/run_state.hpp"
#include <spdlog/spdlog.h>
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using nlohmann::ordered_json;
using persistence::open_mode;
using persistence::store;

ordered_json kpis_json(const kpis& k) {
  return ordered_json{{"turns", k.turns},
                      {"tool_calls", k.tool_calls},
                      {"model_calls", k.model_calls},
                      {"parse_failures", k.parse_failures},
                      {"retries", k.retries},
                      {"input_tokens", k.input_tokens},
                      {"output_tokens", k.output_tokens},
                      {"wall_ms", k.wall_ms},
                      {"tool_errors", k.tool_errors},
                      {"model_errors", k.model_errors}};
}

ordered_json run_json(const persistence::run_info& r) {
  return ordered_json{{"run_id", r.run_id},
                      {"parent_run_id", r.parent_run_id},
                      {"root_run_id", r.root_run_id},
                      {"agent", r.agent},
                      {"tenant", r.tenant},
                      {"status", to_string(r.status)},
                      {"created_us", r.created_us},
                      {"updated_us", r.updated_us},
                      {"events", r.last_seq},
                      {"kpis", kpis_json(r.totals)}};
}

void print_kpis(const kpis& k) {
  std::printf("turns %u  tool calls %u  model calls %u  parse failures %u  "
              "retries %u  tokens %llu in / %llu out  wall %.3f s\n",
              k.turns, k.tool_calls, k.model_calls, k.parse_failures,
              k.retries, static_cast<unsigned long long>(k.input_tokens),
              static_cast<unsigned long long>(k.output_tokens),
              static_cast<double>(k.wall_ms) / 1000.0);
}

} // namespace

int runs(const common_options& opts, const std::string& status) {
  spdlog::debug("listing runs of \"{}\" (status filter: {})", opts.db,
                status.empty() ? "none" : status);
  std::optional<run_status> filter;
  if (!status.empty()) {
    run_status s;
    if (!from_string(status, s)) {
      std::cerr << "troupe: --status: unknown status '" << status
                << "'; expected running, completed, limit_reached, failed or "
                   "canceled\n";
      return exit_usage;
    }
    filter = s;
  }
  auto db = store::open(opts.db, open_mode::read_only);
  if (!db)
    return report(db.error());
  auto all = db->list_runs(filter);
  if (!all)
    return report(all.error());
  if (opts.json) {
    auto arr = ordered_json::array();
    for (auto& r : *all)
      arr.push_back(run_json(r));
    std::cout << to_json_text(arr) << "\n";
    return exit_ok;
  }
  std::printf("%-36s %-13s %-12s %-10s %6s %6s %7s  %s\n", "RUN", "STATUS",
              "AGENT", "TENANT", "TURNS", "TOOLS", "EVENTS", "UPDATED (UTC)");
  for (auto& r : *all)
    std::printf("%-36s %-13s %-12s %-10s %6u %6u %7u  %s\n", r.run_id.c_str(),
                std::string(to_string(r.status)).c_str(), r.agent.c_str(),
                r.tenant.c_str(), r.totals.turns, r.totals.tool_calls,
                r.last_seq, format_timestamp(r.updated_us).c_str());
  if (all->empty())
    std::printf("(no runs in %s)\n", opts.db.c_str());
  return exit_ok;
}

int show(const common_options& opts, const std::string& run_id) {
  spdlog::debug("showing run \"{}\" of \"{}\"", run_id, opts.db);
  auto db = store::open(opts.db, open_mode::read_only);
  if (!db)
    return report(db.error());
  auto run = db->find_run(run_id);
  if (!run)
    return report(run.error());
  auto loaded = db->load_run(run_id);
  if (!loaded)
    return report(loaded.error());
  auto& timeline = *loaded;
  // KPIs come from folding the events, so a run still in flight (or one a
  // crash interrupted) shows where it got to, not the zeros of its row.
  run_state folded;
  for (auto& ev : timeline)
    apply(folded, ev);
  run->totals = folded.totals;
  if (opts.json) {
    auto out = run_json(*run);
    auto evs = ordered_json::array();
    for (auto& ev : timeline)
      evs.push_back(ordered_json{{"seq", ev.seq},
                                 {"ts_us", ev.ts_us},
                                 {"kind", to_string(ev.kind())},
                                 {"summary", summarize(ev)}});
    out["timeline"] = std::move(evs);
    std::cout << to_json_text(out) << "\n";
    return exit_ok;
  }
  std::printf("run %s  agent %s  tenant %s  status %s\n", run->run_id.c_str(),
              run->agent.c_str(), run->tenant.c_str(),
              std::string(to_string(run->status)).c_str());
  if (!run->parent_run_id.empty())
    std::printf("parent %s  root %s\n", run->parent_run_id.c_str(),
                run->root_run_id.c_str());
  print_kpis(run->totals);
  std::printf("%5s  %-23s  %-15s  %s\n", "SEQ", "TIME (UTC)", "KIND",
              "SUMMARY");
  for (auto& ev : timeline)
    std::printf("%5u  %-23s  %-15s  %s\n", ev.seq,
                format_timestamp(ev.ts_us).c_str(),
                std::string(to_string(ev.kind())).c_str(),
                summarize(ev).c_str());
  return exit_ok;
}

int export_run(const common_options& opts, const std::string& run_id) {
  auto db = store::open(opts.db, open_mode::read_only);
  if (!db)
    return report(db.error());
  if (auto run = db->find_run(run_id); !run)
    return report(run.error());
  // Render everything before printing anything: a corrupt row must not leave
  // a half export on stdout that looks complete.
  std::string out;
  auto err = db->for_each_verified_event(run_id, [&](const persistence::stored_event& row,
                                                     event&) {
    auto json = to_json(row.bytes.data(), row.bytes.size(),
                        "run " + row.run_id + " seq " + std::to_string(row.seq));
    if (!json)
      return std::move(json.error());
    out += *json;
    out += '\n';
    return caf::error{};
  });
  if (err)
    return report(err);
  std::cout << out << std::flush;
  return exit_ok;
}

namespace {

// Whether process tools can be isolated here; they refuse to run otherwise.
ordered_json isolation_report() {
  auto probe = probe_isolation();
  return ordered_json{{"ok", probe.ok()},
                      {"namespaces", probe.namespaces},
                      {"idmapped_mounts", probe.idmapped_mounts},
                      {"uid_drop", probe.uid_drop},
                      {"bubblewrap_found", probe.bubblewrap_found},
                      {"sandbox_start_us", probe.sandbox_start_us},
                      {"detail", probe.detail}};
}

void print_isolation(const ordered_json& iso) {
  if (iso["ok"].get<bool>())
    std::printf("isolation: ok (pid, net, mount, ipc and uts namespaces; idmapped "
                "workspace; unprivileged uid; a sandbox starts in %llu us)\n",
                static_cast<unsigned long long>(iso["sandbox_start_us"].get<uint64_t>()));
  else
    std::printf("isolation: UNAVAILABLE: %s; the shell tool refuses to run\n",
                iso["detail"].get<std::string>().c_str());
}

} // namespace

int doctor(const common_options& opts) {
  auto db = store::open(opts.db, open_mode::read_only);
  if (!db)
    return report(db.error());
  auto rep = db->check_integrity();
  if (!rep)
    return report(rep.error());
  auto iso = isolation_report();
  if (!opts.json)
    print_isolation(iso);
  if (opts.json) {
    auto problems = ordered_json::array();
    for (auto& p : rep->problems)
      problems.push_back(
        ordered_json{{"run_id", p.run_id}, {"seq", p.seq}, {"what", p.what}});
    std::cout << to_json_text(ordered_json{{"db", opts.db},
                                           {"schema_version", db->opened_version()},
                                           {"runs", rep->runs},
                                           {"events", rep->events},
                                           {"clean", rep->clean()},
                                           {"problems", problems},
                                           {"isolation", iso}})
              << "\n";
  } else {
    std::printf("%s: schema version %lld, %llu runs, %llu events\n",
                opts.db.c_str(), static_cast<long long>(db->opened_version()),
                static_cast<unsigned long long>(rep->runs),
                static_cast<unsigned long long>(rep->events));
    for (auto& p : rep->problems) {
      if (p.run_id.empty())
        std::printf("  problem: %s\n", p.what.c_str());
      else
        std::printf("  problem: run %s seq %u: %s\n", p.run_id.c_str(), p.seq,
                    p.what.c_str());
    }
    std::printf("%s\n", rep->clean() ? "clean" : "NOT CLEAN");
  }
  return rep->clean() ? exit_ok : exit_data;
}

int migrate(const common_options& opts) {
  {
    auto probe = store::open(opts.db, open_mode::read_only);
    if (probe)
      return std::printf("%s: already at schema version %lld\n",
                         opts.db.c_str(),
                         static_cast<long long>(probe->opened_version())),
             exit_ok;
    if (probe.error() != persistence::store_errc::needs_migration)
      return report(probe.error());
  }
  auto db = store::open(opts.db, open_mode::read_write);
  if (!db)
    return report(db.error());
  std::printf("%s: migrated from schema version %lld to %lld\n",
              opts.db.c_str(), static_cast<long long>(db->opened_version()),
              static_cast<long long>(persistence::current_schema_version));
  return exit_ok;
}

} // namespace troupe::cli
