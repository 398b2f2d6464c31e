// runs, show, export, doctor, migrate: the read side of the replay console.
// Read commands open the journal read-only, so an error never writes.

#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sandbox/sandbox_process.hpp"
#include "persistence/store.hpp"
#include "core/event_summary.hpp"
#include "actors/run_reader.hpp"
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
                      {"model_errors", k.model_errors},
                      {"cost_micro_usd", k.cost_micro_usd}};
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
              "retries %u  tokens %llu in / %llu out  cost $%.6f  wall %.3f s\n",
              k.turns, k.tool_calls, k.model_calls, k.parse_failures,
              k.retries, static_cast<unsigned long long>(k.input_tokens),
              static_cast<unsigned long long>(k.output_tokens),
              static_cast<double>(k.cost_micro_usd) / 1e6,
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

namespace {

struct timeline_row {
  uint32_t seq;
  int64_t ts_us;
  event_kind kind;
  std::string summary;
};

// Where show took a run's state from.
struct state_source {
  uint32_t checkpoint_seq = 0; ///< 0: folded from run_start
  size_t events_after = 0;
  std::string passed_over;
};

// Where a run stands: its state from the latest usable checkpoint plus the
// events after it (its KPIs are those, not the row's zeros while it runs).
ordered_json state_json(const run_state& st, const state_source& from) {
  auto pending = ordered_json::array();
  for (auto& a : st.pending_approvals)
    pending.push_back(a.call_id);
  return ordered_json{{"phase", to_string(st.phase)},
                      {"turn", st.turn},
                      {"pending_approvals", pending},
                      {"from_checkpoint_seq", from.checkpoint_seq},
                      {"events_after_checkpoint", from.events_after},
                      {"passed_over", from.passed_over}};
}

void print_state(const run_state& st, const state_source& from) {
  std::printf("state: %s, turn %u", std::string(to_string(st.phase)).c_str(), st.turn);
  for (auto& a : st.pending_approvals)
    std::printf(", %s awaits approval", a.call_id.c_str());
  if (from.checkpoint_seq != 0)
    std::printf(" (checkpoint at seq %u + %zu events)\n", from.checkpoint_seq,
                from.events_after);
  else
    std::printf(" (folded from run_start: no usable checkpoint)\n");
  if (!from.passed_over.empty())
    std::printf("note: %s\n", from.passed_over.c_str());
}

} // namespace

int show(const common_options& opts, const std::string& run_id) {
  spdlog::debug("showing run \"{}\" of \"{}\"", run_id, opts.db);
  auto db = store::open(opts.db, open_mode::read_only);
  if (!db)
    return report(db.error());
  auto run = db->find_run(run_id);
  if (!run)
    return report(run.error());
  // One verified pass: the timeline keeps a line per event, the state only
  // the latest checkpoint and the events after it.
  std::vector<timeline_row> timeline;
  auto rebuilt = read_run(*db, run_id, rebuild_scope::control_only, [&](const event& ev) {
    timeline.push_back({ev.seq, ev.ts_us, ev.kind(), summarize(ev)});
  });
  if (!rebuilt)
    return report(rebuilt.error());
  state_source from{rebuilt->from_seq(), rebuilt->tail.size(), rebuilt->passed_over};
  auto st = fold_tail(std::move(*rebuilt));
  run->totals = st.totals;
  if (opts.json) {
    auto out = run_json(*run);
    out["state"] = state_json(st, from);
    auto evs = ordered_json::array();
    for (auto& row : timeline)
      evs.push_back(ordered_json{{"seq", row.seq},
                                 {"ts_us", row.ts_us},
                                 {"kind", to_string(row.kind)},
                                 {"summary", row.summary}});
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
  print_state(st, from);
  std::printf("%5s  %-23s  %-15s  %s\n", "SEQ", "TIME (UTC)", "KIND",
              "SUMMARY");
  for (auto& row : timeline)
    std::printf("%5u  %-23s  %-15s  %s\n", row.seq,
                format_timestamp(row.ts_us).c_str(),
                std::string(to_string(row.kind)).c_str(), row.summary.c_str());
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
  // Version 8 rewrites every event: say how far it is on a large journal.
  auto progress = [&](uint64_t done, uint64_t total) {
    if (!opts.json)
      std::fprintf(stderr, "%s: rewriting events: %llu of %llu\n", opts.db.c_str(),
                   static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
  };
  auto t0 = std::chrono::steady_clock::now();
  auto db = store::open(opts.db, open_mode::read_write, progress);
  if (!db)
    return report(db.error());
  auto seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: migrated from schema version %lld to %lld in %.2f s\n",
              opts.db.c_str(), static_cast<long long>(db->opened_version()),
              static_cast<long long>(persistence::current_schema_version), seconds);
  return exit_ok;
}

} // namespace troupe::cli
