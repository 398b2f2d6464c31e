// The troupe console: argument parsing only; the commands live beside it.

#include <functional>
#include <iostream>

#include <sqlite3.h>

#include <CLI/CLI.hpp>

#include "core/logging.hpp"
#include "schemas/errors.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/bench_mcp.hpp"
#include "tools/troupe/bench_sandbox.hpp"
#include "tools/troupe/bench_serve.hpp"
#include "tools/troupe/import_command.hpp"
#include "tools/troupe/policy_commands.hpp"
#include "tools/troupe/report_command.hpp"
#include "tools/troupe/serve_admin_commands.hpp"
#include "tools/troupe/tree_command.hpp"

namespace {

using namespace troupe::cli;

void add_common(CLI::App* cmd, common_options& opts, bool read_command) {
  cmd->add_option("--db", opts.db, "journal database")
    ->capture_default_str();
  if (read_command)
    cmd->add_flag("--json", opts.json, "machine-readable output");
}

} // namespace

int main(int argc, char** argv) {
  // SQLite's allocation statistics, which nothing here reads, take a global
  // mutex on every allocation of every connection. Must precede any other
  // SQLite call (it fails harmlessly otherwise).
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  CLI::App app{"troupe: an actor runtime for LLM agents (replay console)"};
  app.require_subcommand(1);
  std::string log_format = "text";
  std::string log_level = "warn";
  app.add_option("--log-format", log_format, "text or json")
    ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical, off")
    ->capture_default_str();

  common_options opts;
  std::function<int()> action;

  run_options ro;
  auto* run_cmd = app.add_subcommand("run", "run an agent scenario");
  add_common(run_cmd, ro.common, true);
  run_cmd->add_option("SCENARIO", ro.scenario, "scenario file (TOML)")
    ->required();
  run_cmd->add_option("--task", ro.task, "the task, overriding the scenario's");
  run_cmd->add_flag("--progress", ro.progress,
                    "progress lines on stderr even when it is not a terminal");
  run_cmd->add_option("--secrets-file", ro.secrets_file,
                      "NAME=value lines; policy rules grant them to tools by name");
  bool no_resume = false;
  run_cmd->add_flag("--no-resume", no_resume,
                    "do not first continue the journal's unfinished runs");
  run_cmd->callback([&] {
    action = [&] {
      ro.resume = !no_resume;
      return run(ro);
    };
  });

  auto* resume_cmd = app.add_subcommand(
    "resume", "continue every unfinished run of the journal (after a crash)");
  add_common(resume_cmd, opts, true);
  std::string resume_secrets;
  resume_cmd->add_option("--secrets-file", resume_secrets, "as for troupe run");
  resume_cmd->callback([&] { action = [&] { return resume(opts, resume_secrets); }; });

  serve_options so;
  auto* serve_cmd = app.add_subcommand("serve", "serve the HTTP API over a durable job queue");
  add_common(serve_cmd, so.common, false);
  serve_cmd->add_option("--listen", so.listen, "HOST:PORT to listen on (port 0: any free one)");
  serve_cmd->add_option("--scenarios", so.scenarios, "directory of scenario files (*.toml)");
  serve_cmd->add_option("--secrets", so.secrets_file, "NAME=value lines for tools");
  serve_cmd->add_option("--concurrency", so.concurrency, "jobs running at once")
    ->check(CLI::Range(1u, 100000u));
  serve_cmd->add_option("--max-queued", so.max_queued, "jobs waiting at once before 429")
    ->check(CLI::Range(size_t{1}, size_t{10000000}));
  serve_cmd->add_option("--max-attempts", so.max_attempts,
                        "starts of a job that fails on the infrastructure")
    ->check(CLI::Range(1u, 100u));
  serve_cmd->add_flag("--cancel-on-breach", so.cancel_on_breach,
                      "cancel a running job once its deadline passed");
  serve_cmd->add_option("--drain-timeout", so.drain_seconds,
                        "seconds running jobs may finish after SIGTERM");
  serve_cmd->add_option("--metrics-token-file", so.metrics_token_file,
                        "serve GET /metrics to `Authorization: Bearer <this file's content>`");
  serve_cmd->callback([&] { action = [&] { return serve(so); }; });

  auto* runs_cmd = app.add_subcommand("runs", "list runs");
  add_common(runs_cmd, opts, true);
  std::string status;
  runs_cmd->add_option("--status", status,
                       "only runs with this status (running, completed, "
                       "limit_reached, failed, canceled)");
  runs_cmd->callback([&] { action = [&] { return runs(opts, status); }; });

  std::string run_id;
  auto* show_cmd = app.add_subcommand("show", "a run's KPIs and timeline");
  add_common(show_cmd, opts, true);
  show_cmd->add_option("RUN", run_id, "run id")->required();
  show_cmd->callback([&] { action = [&] { return show(opts, run_id); }; });

  auto* tree_cmd = app.add_subcommand("tree", "the delegation tree holding a run");
  add_common(tree_cmd, opts, true);
  tree_cmd->add_option("RUN", run_id, "run id")->required();
  tree_cmd->callback([&] { action = [&] { return tree(opts, run_id); }; });

  auto* artifacts_cmd =
    app.add_subcommand("artifacts", "the files the runs of a run's tree produced");
  add_common(artifacts_cmd, opts, true);
  artifacts_cmd->add_option("RUN", run_id, "run id")->required();
  artifacts_cmd->callback([&] { action = [&] { return artifacts(opts, run_id); }; });

  auto* export_cmd = app.add_subcommand(
    "export", "a run's events as JSON lines, or its tree as OpenTelemetry spans (OTLP/JSON)");
  add_common(export_cmd, opts, false);
  export_cmd->add_option("RUN", run_id, "run id")->required();
  std::string export_format = "jsonl";
  std::string export_out;
  export_cmd->add_option("--format", export_format, "jsonl (the journal's events) or otlp")
    ->check(CLI::IsMember({"jsonl", "otlp"}))
    ->capture_default_str();
  export_cmd->add_option("--out", export_out, "write to this file instead of stdout (otlp)");
  export_cmd->callback([&] {
    action = [&] {
      if (export_format == "otlp")
        return export_otlp(opts, run_id, export_out);
      if (!export_out.empty()) {
        std::cerr << "troupe: --out is for --format otlp" << std::endl;
        return static_cast<int>(exit_usage);
      }
      return export_run(opts, run_id);
    };
  });

  report_options rep;
  auto* report_cmd = app.add_subcommand(
    "report", "KPIs over the journal's runs; with --baseline, exit 3 when one regressed");
  add_common(report_cmd, rep.common, true);
  report_cmd->add_flag("--md", rep.markdown, "Markdown (the default)");
  report_cmd->add_option("--since", rep.since,
                         "runs started at or after an RFC 3339 time, or within a duration (24h, 7d)");
  report_cmd->add_option("--tenant", rep.tenant, "only this tenant's runs");
  report_cmd->add_option("--bucket", rep.bucket, "also a series by hour or day (JSON: series)");
  report_cmd->add_option("--baseline", rep.baseline, "an earlier troupe report --json to gate on");
  report_cmd->add_option("--threshold", rep.thresholds,
                         "KPI=PCT: how much worse KPI may get (default 10 %); repeatable");
  report_cmd->callback([&] { action = [&] { return kpi_report(rep); }; });

  auto* replay_cmd = app.add_subcommand(
    "replay", "re-run a run's logic (and its delegated runs') from its journal and compare every step");
  add_common(replay_cmd, opts, true);
  replay_cmd->add_option("RUN", run_id, "run id")->required();
  std::string replay_with;
  replay_cmd->add_option("--with", replay_with,
                         "replay against this scenario's policy (what-if)");
  bool replay_from_checkpoint = false;
  replay_cmd->add_flag("--from-checkpoint", replay_from_checkpoint,
                       "restore the latest checkpoint and replay only the events after it");
  replay_cmd->callback([&] {
    action = [&] { return replay(opts, run_id, replay_with, replay_from_checkpoint); };
  });

  std::string other_run;
  auto* diff_cmd = app.add_subcommand("diff", "compare two runs step by step");
  add_common(diff_cmd, opts, true);
  diff_cmd->add_option("RUN_A", run_id, "run id")->required();
  diff_cmd->add_option("RUN_B", other_run, "run id")->required();
  diff_cmd->callback([&] { action = [&] { return diff(opts, run_id, other_run); }; });

  std::string import_file;
  auto* import_cmd = app.add_subcommand(
    "import", "write exported JSON lines (troupe export) into a journal");
  add_common(import_cmd, opts, true);
  import_cmd->add_option("FILE", import_file, "JSON lines from troupe export")->required();
  import_cmd->callback([&] { action = [&] { return import_events(opts, import_file); }; });

  auto* doctor_cmd =
    app.add_subcommand("doctor", "check the journal's integrity");
  add_common(doctor_cmd, opts, true);
  doctor_cmd->callback([&] { action = [&] { return doctor(opts); }; });

  auto* migrate_cmd =
    app.add_subcommand("migrate", "upgrade a journal to this schema version");
  add_common(migrate_cmd, opts, false);
  migrate_cmd->callback([&] { action = [&] { return migrate(opts); }; });

  auto* models_cmd = app.add_subcommand(
    "models", "endpoints and models: health, breakers, latency, cost, what servers list");
  add_common(models_cmd, opts, true);
  std::string models_scenario, models_secrets;
  models_cmd->add_option("SCENARIO", models_scenario,
                         "a scenario whose endpoints to list and ask (discovery)");
  models_cmd->add_option("--secrets-file", models_secrets, "as for troupe run");
  models_cmd->callback([&] {
    action = [&] { return models(opts, models_scenario, models_secrets); };
  });

  auto* mcp_cmd = app.add_subcommand("mcp", "MCP servers of a scenario");
  mcp_cmd->require_subcommand(1);
  auto* mcp_list_cmd =
    mcp_cmd->add_subcommand("list", "start a scenario's MCP servers, list their tools, stop them");
  mcp_list_cmd->add_flag("--json", opts.json, "machine-readable output");
  std::string mcp_scenario, mcp_secrets;
  mcp_list_cmd->add_option("SCENARIO", mcp_scenario, "the scenario file")->required();
  mcp_list_cmd->add_option("--secrets-file", mcp_secrets, "as for troupe run");
  mcp_list_cmd->callback([&] {
    action = [&] { return mcp_list(opts, mcp_scenario, mcp_secrets); };
  });

  auto* approvals_cmd = app.add_subcommand("approvals", "list pending approvals");
  add_common(approvals_cmd, opts, true);
  approvals_cmd->callback([&] { action = [&] { return approvals(opts); }; });
  std::string call_id, decided_by = "cli", reason;
  for (bool approve : {true, false}) {
    auto* cmd = app.add_subcommand(approve ? "approve" : "deny",
                                   approve ? "approve a pending tool call"
                                           : "deny a pending tool call");
    add_common(cmd, opts, false);
    cmd->add_option("RUN", run_id, "run id")->required();
    cmd->add_option("CALL", call_id, "call id")->required();
    cmd->add_option("--by", decided_by, "who decides")->capture_default_str();
    cmd->add_option("--reason", reason, "why");
    cmd->callback([&, approve] {
      action = [&, approve] {
        return decide(opts, run_id, call_id, approve, decided_by, reason);
      };
    });
  }

  auto* tenants_cmd =
    app.add_subcommand("tenants", "tenants, API keys and the audit log of troupe serve");
  tenants_cmd->require_subcommand(1);
  tenant_add_options ta;
  auto* tenants_add_cmd = tenants_cmd->add_subcommand("add", "add a tenant with its quotas");
  add_common(tenants_add_cmd, opts, false);
  tenants_add_cmd->add_option("NAME", ta.name, "[a-z0-9][a-z0-9_-]{0,62}")->required();
  tenants_add_cmd->add_option("--max-concurrent", ta.max_concurrent,
                              "runs at once (0: unlimited, as for every quota)");
  tenants_add_cmd->add_option("--per-minute", ta.per_minute, "submissions per minute");
  tenants_add_cmd->add_option("--max-queued", ta.max_queued, "jobs waiting at once");
  tenants_add_cmd->add_option("--tokens-per-day", ta.tokens_per_day,
                              "model tokens (input + output) per UTC day");
  tenants_add_cmd->add_option("--cost-per-month-usd", ta.cost_per_month_usd,
                              "model cost per UTC month, in dollars");
  tenants_add_cmd->add_option("--policy", ta.policy_file,
                              "policy file for the tenant's runs (default: the scenario's)");
  tenants_add_cmd->callback([&] { action = [&] { return tenants_add(opts, ta); }; });
  tenant_add_options tq;
  auto* tenants_quota_cmd = tenants_cmd->add_subcommand(
    "set-quota", "replace a tenant's quotas (a quota left out: unlimited)");
  add_common(tenants_quota_cmd, opts, false);
  tenants_quota_cmd->add_option("NAME", tq.name, "the tenant")->required();
  tenants_quota_cmd->add_option("--max-concurrent", tq.max_concurrent, "runs at once");
  tenants_quota_cmd->add_option("--per-minute", tq.per_minute, "submissions per minute");
  tenants_quota_cmd->add_option("--max-queued", tq.max_queued, "jobs waiting at once");
  tenants_quota_cmd->add_option("--tokens-per-day", tq.tokens_per_day,
                                "model tokens (input + output) per UTC day");
  tenants_quota_cmd->add_option("--cost-per-month-usd", tq.cost_per_month_usd,
                                "model cost per UTC month, in dollars");
  tenants_quota_cmd->callback([&] { action = [&] { return tenants_set_quota(opts, tq); }; });
  auto* tenants_list_cmd = tenants_cmd->add_subcommand("list", "tenants, quotas and keys");
  add_common(tenants_list_cmd, opts, true);
  tenants_list_cmd->callback([&] { action = [&] { return tenants_list(opts); }; });
  std::string key_tenant, key_role, key_id;
  auto* key_create_cmd = tenants_cmd->add_subcommand(
    "key-create", "create an API key; its token is shown once");
  add_common(key_create_cmd, opts, false);
  key_create_cmd->add_option("TENANT", key_tenant, "tenant name")->required();
  key_create_cmd->add_option("--role", key_role, "viewer, submitter, operator or admin")
    ->required();
  key_create_cmd->callback([&] {
    action = [&] { return tenants_key_create(opts, key_tenant, key_role); };
  });
  auto* key_revoke_cmd = tenants_cmd->add_subcommand("key-revoke", "revoke an API key");
  add_common(key_revoke_cmd, opts, false);
  key_revoke_cmd->add_option("KEY_ID", key_id, "the key's id (k_...)")->required();
  key_revoke_cmd->callback([&] { action = [&] { return tenants_key_revoke(opts, key_id); }; });
  std::string audit_tenant;
  uint32_t audit_limit = 50;
  auto* audit_cmd = tenants_cmd->add_subcommand("audit", "the audit log, newest first");
  add_common(audit_cmd, opts, true);
  audit_cmd->add_option("--tenant", audit_tenant, "only this tenant's entries");
  audit_cmd->add_option("--limit", audit_limit, "entries")
    ->capture_default_str()
    ->check(CLI::Range(1u, 10000u));
  audit_cmd->callback([&] {
    action = [&] { return tenants_audit(opts, audit_tenant, audit_limit); };
  });

  jobs_list_options jl;
  auto* jobs_cmd = app.add_subcommand("jobs", "the job queue of troupe serve, newest first");
  add_common(jobs_cmd, opts, true);
  jobs_cmd->add_option("--status", jl.status,
                       "only jobs with this status (accepted, queued, running, completed, "
                       "failed, canceled, expired, dead)");
  jobs_cmd->add_option("--tenant", jl.tenant, "only this tenant's jobs");
  jobs_cmd->add_option("--label", jl.label, "only jobs with this label");
  jobs_cmd->add_option("--limit", jl.limit, "jobs per page")
    ->capture_default_str()
    ->check(CLI::Range(1u, 1000u));
  jobs_cmd->add_option("--cursor", jl.cursor, "the page after the one that printed it");
  std::string requeue_job;
  auto* requeue_cmd =
    jobs_cmd->add_subcommand("requeue", "put a dead job back in the queue, attempts reset");
  add_common(requeue_cmd, opts, false);
  requeue_cmd->add_option("JOB_ID", requeue_job, "job id")->required();
  requeue_cmd->callback([&] { action = [&] { return jobs_requeue(opts, requeue_job); }; });
  jobs_cmd->callback([&] {
    if (!requeue_cmd->parsed())
      action = [&] { return jobs_list(opts, jl); };
  });

  auto* policy_cmd = app.add_subcommand("policy", "check and explain policy files");
  policy_cmd->require_subcommand(1);
  std::string policy_file, explain_tool, explain_args = "{}", explain_agent,
                           explain_role, explain_tenant;
  bool explain_json = false;
  auto* validate_cmd = policy_cmd->add_subcommand("validate", "check a policy file");
  validate_cmd->add_option("FILE", policy_file, "policy file (TOML)")->required();
  validate_cmd->callback([&] { action = [&] { return policy_validate(policy_file); }; });
  auto* explain_cmd = policy_cmd->add_subcommand(
    "explain", "the decision for one call and the rule that made it");
  explain_cmd->add_option("FILE", policy_file, "policy file (TOML)")->required();
  explain_cmd->add_option("--tool", explain_tool, "tool name")->required();
  explain_cmd->add_option("--args", explain_args, "arguments as JSON")
    ->capture_default_str();
  explain_cmd->add_option("--agent", explain_agent, "calling agent");
  explain_cmd->add_option("--role", explain_role, "calling role");
  explain_cmd->add_option("--tenant", explain_tenant, "tenant");
  explain_cmd->add_flag("--json", explain_json, "one JSON object on stdout");
  explain_cmd->callback([&] {
    action = [&] {
      return policy_explain(policy_file, explain_tool, explain_args, explain_agent,
                            explain_role, explain_tenant, explain_json);
    };
  });

  auto* bench_cmd = app.add_subcommand("bench", "benchmarks");
  bench_cmd->require_subcommand(1);
  bench_journal_options bj;
  auto* bench_journal_cmd = bench_cmd->add_subcommand(
    "journal", "group-commit throughput against raw SQLite");
  bench_journal_cmd->add_option("--events", bj.events, "events per phase")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  bench_journal_cmd->add_option("--appenders", bj.appenders,
                                "concurrent appender actors")
    ->capture_default_str()
    ->check(CLI::Range(1u, 10000u));
  bench_journal_cmd->add_option("--window", bj.window,
                                "durable appends in flight per appender")
    ->capture_default_str()
    ->check(CLI::Range(1u, 100000u));
  bench_journal_cmd->add_option("--dir", bj.dir, "directory for scratch files");
  bench_journal_cmd->add_flag("--json", bj.json, "one JSON object on stdout");
  bench_journal_cmd->callback([&] { action = [&] { return bench_journal(bj); }; });

  bench_turns_options bt;
  auto* bench_turns_cmd =
    bench_cmd->add_subcommand("turns", "turn-loop throughput and memory");
  bench_turns_cmd->add_option("--runs", bt.runs, "runs per concurrency level")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}));
  bench_turns_cmd->add_option("--turns", bt.turns, "turns per run")
    ->capture_default_str()
    ->check(CLI::Range(1u, 100000u));
  bench_turns_cmd
    ->add_option("--concurrency", bt.concurrency,
                 "runs alive at once, one level each (comma-separated)")
    ->delimiter(',')
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}));
  bench_turns_cmd
    ->add_option("--tool-effect", bt.tool_effect,
                 "effect class of the tool each turn calls (unsafe and idempotent "
                 "intents wait for their commit)")
    ->capture_default_str()
    ->check(CLI::IsMember({"pure", "idempotent", "unsafe"}));
  bench_turns_cmd->add_option("--idle", bt.idle_runs,
                              "idle runs alive at once for the memory figure")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{0}, uint64_t{1000000}));
  bench_turns_cmd->add_flag("--json", bt.json, "one JSON object on stdout");
  bench_turns_cmd->callback([&] { action = [&] { return bench_turns(bt); }; });

  bench_recovery_options br;
  auto* bench_recovery_cmd = bench_cmd->add_subcommand(
    "recovery", "resume after SIGKILL, replay speed, a long run's journal");
  bench_recovery_cmd->add_option("--runs", br.runs, "runs in flight at the kill")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}));
  bench_recovery_cmd->add_option("--turns", br.long_turns, "turns of the long run")
    ->capture_default_str()
    ->check(CLI::Range(2u, 1000000u));
  bench_recovery_cmd->add_flag("--json", br.json, "one JSON object on stdout");
  bench_recovery_cmd->callback([&] { action = [&] { return bench_recovery(br); }; });

  bench_fanout_options bf;
  auto* bench_fanout_cmd = bench_cmd->add_subcommand(
    "fanout", "one lead delegating to N children against N independent runs");
  bench_fanout_cmd->add_option("--children", bf.children, "children of the lead")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  bench_fanout_cmd->add_option("--turns", bf.worker_turns, "turns per child")
    ->capture_default_str()
    ->check(CLI::Range(uint32_t{1}, uint32_t{100}));
  bench_fanout_cmd->add_flag("--json", bf.json, "one JSON object on stdout");
  bench_fanout_cmd->callback([&] { action = [&] { return bench_fanout(bf); }; });

  bench_mcp_options bm;
  auto* bench_mcp_cmd = bench_cmd->add_subcommand(
    "mcp", "an MCP tool through the governed path against a direct client");
  bench_mcp_cmd->add_option("--calls", bm.calls, "calls per phase")->capture_default_str();
  bench_mcp_cmd->add_option("--server", bm.server,
                            "the stdio MCP server whose echo tool is called (default: "
                            "build-mcp-peers/node_modules/.bin/mcp-server-everything)");
  bench_mcp_cmd->add_flag("--json", bm.json, "one JSON object on stdout");
  bench_mcp_cmd->callback([&] { action = [&] { return bench_mcp(bm); }; });

  bench_sandbox_options bs;
  auto* bench_sandbox_cmd = bench_cmd->add_subcommand(
    "sandbox", "sandboxed command latency: a new sandbox per call vs the pool");
  bench_sandbox_cmd->add_option("--calls", bs.calls, "calls per phase")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}));
  bench_sandbox_cmd->add_option("--worker", bs.worker_binary,
                                "troupe-sandbox-worker (default: beside troupe)");
  bench_sandbox_cmd->add_flag("--json", bs.json, "one JSON object on stdout");
  bench_sandbox_cmd->callback([&] { action = [&] { return bench_sandbox(bs); }; });

  bench_gateway_options bg;
  auto* bench_gateway_cmd = bench_cmd->add_subcommand(
    "gateway", "model requests in flight through one gateway route vs a loopback server");
  bench_gateway_cmd->add_option("--concurrency", bg.concurrency, "requests kept in flight")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{8000}));
  bench_gateway_cmd->add_option("--requests", bg.requests,
                                "measured requests per phase (default: 20 x concurrency)")
    ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}));
  bench_gateway_cmd->add_option("--first-chunk-ms", bg.first_chunk_ms,
                                "the server's delay before the first chunk")
    ->capture_default_str()
    ->check(CLI::Range(0u, 60000u));
  bench_gateway_cmd->add_option("--chunks", bg.chunks, "content deltas per reply")
    ->capture_default_str()
    ->check(CLI::Range(1u, 100000u));
  bench_gateway_cmd->add_option("--chunk-gap-ms", bg.chunk_gap_ms,
                                "the server's delay before each content delta")
    ->capture_default_str()
    ->check(CLI::Range(0u, 60000u));
  bench_gateway_cmd->add_option("--server-threads", bg.server_threads,
                                "threads of the loopback server")
    ->capture_default_str()
    ->check(CLI::Range(1u, 64u));
  bench_gateway_cmd->add_flag("--json", bg.json, "one JSON object on stdout");
  bench_gateway_cmd->callback([&] { action = [&] { return bench_gateway(bg); }; });

  bench_serve_options bsv;
  auto* bench_serve_cmd = bench_cmd->add_subcommand(
    "serve", "troupe serve through its HTTP API: submissions, finished jobs, reads, /healthz, "
             "SSE subscribers");
  bench_serve_cmd->add_option("--jobs", bsv.jobs, "submissions (and reads, and /healthz calls)")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}));
  bench_serve_cmd->add_option("--clients", bsv.clients, "concurrent keep-alive clients")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{4096}));
  bench_serve_cmd->add_option("--subscribers", bsv.subscribers,
                              "SSE streams on one run waiting for approval")
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{16000}));
  bench_serve_cmd->add_option("--server-concurrency", bsv.server_concurrency,
                              "the server's --concurrency (jobs running at once)")
    ->capture_default_str()
    ->check(CLI::Range(1u, 10000u));
  bench_serve_cmd->add_flag("--json", bsv.json, "one JSON object on stdout");
  bench_serve_cmd->callback([&] { action = [&] { return bench_serve(bsv); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto rc = app.exit(e);
    return rc == 0 ? 0 : exit_usage;
  }
  if (auto err = troupe::setup_logging(log_format, log_level)) {
    std::cerr << "troupe: " << troupe::render(err) << std::endl;
    return exit_usage;
  }
  return action ? action() : exit_usage;
}
