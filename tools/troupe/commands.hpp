#pragma once
// The `troupe` console's commands. main.cpp parses arguments (CLI11 stays
// there: it is expensive to compile) and calls one of these; each returns the
// process exit code.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/scenario.hpp"

namespace troupe::cli {

/// Exit codes (sysexits.h where one fits). docs/cli.md lists them.
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,
  exit_usage = 64,    ///< bad arguments or input files
  exit_data = 65,     ///< corrupted journal, not a journal, newer schema
  exit_no_input = 66, ///< the database does not exist
};

struct common_options {
  std::string db = "troupe.db";
  bool json = false;
};

/// Prints `troupe: <message>` on stderr and maps the error to an exit code.
int report(const caf::error& err);

/// Reads a scenario file against the tools every console command knows (the
/// built-ins and `shell`), before anything opens a journal.
[[nodiscard]] caf::expected<scenario> load_console_scenario(const std::string& path);

/// Refuses a --db path that exists and is not a regular file (store_errc::
/// not_a_journal, exit 65, as the read commands do), before anything opens it.
[[nodiscard]] caf::error check_db_path(const std::string& path);

int runs(const common_options& opts, const std::string& status);
int show(const common_options& opts, const std::string& run_id);
int export_run(const common_options& opts, const std::string& run_id);
int doctor(const common_options& opts);
int migrate(const common_options& opts);
/// Exit 0 when the replay is identical, 1 at the first divergence. With
/// `with` (a scenario file), replays against its policy: what-if. With
/// `from_checkpoint`, restores the latest usable checkpoint and replays the
/// events after it.
int replay(const common_options& opts, const std::string& run_id,
           const std::string& with = {}, bool from_checkpoint = false);
/// Exit 0 when both runs took the same steps, 1 otherwise.
int diff(const common_options& opts, const std::string& run_a,
         const std::string& run_b);

struct run_options {
  common_options common;
  std::string scenario;
  std::string task;
  bool progress = false; ///< progress lines even when stderr is not a terminal
  bool resume = true;    ///< first continue the journal's unfinished runs
  std::string secrets_file;
};

struct serve_options {
  common_options common;
  std::string listen = "127.0.0.1:8080";
  std::string scenarios = "scenarios";
  std::string secrets_file;
  uint32_t concurrency = 16;   ///< jobs running at once, all tenants
  size_t max_queued = 10000;   ///< jobs waiting at once, all tenants; then 429
  uint32_t max_attempts = 3;   ///< starts of a job failing on the infrastructure
  bool cancel_on_breach = false;
  uint32_t drain_seconds = 30; ///< SIGTERM: how long running jobs may finish
  std::string metrics_token_file; ///< GET /metrics answers its content; empty: off
};

/// `troupe serve`: runs until SIGTERM or SIGINT (exit 0 after draining);
/// SIGHUP reloads the scenario directory. Exit 64 for bad arguments, else
/// as report() when a part cannot start.
int serve(const serve_options& opts);

/// Continues every unfinished run of the journal and waits for them.
/// Exit 0 when all resumed (whatever their status), 1 when one could not.
int resume(const common_options& opts, const std::string& secrets_file = {});

/// Exit codes: 0 completed, 2 limit_reached, 1 failed or canceled, 64 bad input.
int run(const run_options& opts);

/// Lists pending approval requests.
int approvals(const common_options& opts);

/// Endpoints and models with their health from the journal; with a scenario,
/// also its endpoints and what each one lists now (discovery).
int models(const common_options& opts, const std::string& scenario_path,
           const std::string& secrets_file);
/// Starts a scenario's MCP servers, lists the tools each offers its agents
/// (qualified names, effect classes, schemas, what troupe does not enforce,
/// tools left out and why), stops them. Exit 64 for a bad scenario or one
/// without servers, 1 when a server cannot be started.
int mcp_list(const common_options& opts, const std::string& scenario_path,
             const std::string& secrets_file);
/// Approves or denies one pending request (exit 1 when there is none).
int decide(const common_options& opts, const std::string& run_id,
           const std::string& call_id, bool approved, const std::string& by,
           const std::string& reason);

struct bench_journal_options {
  uint64_t events = 20000;
  unsigned appenders = 8;
  unsigned window = 32; ///< durable appends each appender keeps in flight
  bool json = false;
  std::string dir;      ///< where the scratch databases go (default: a temp dir)
};

int bench_journal(const bench_journal_options& opts);

struct bench_turns_options {
  uint64_t runs = 4000; ///< per concurrency level
  uint32_t turns = 10;
  std::vector<uint64_t> concurrency{100, 1000}; ///< one level each, in this order
  std::string tool_effect = "unsafe"; ///< of the tool each turn calls
  uint64_t idle_runs = 10000; ///< runs kept alive and idle for the memory figure
  bool json = false;
};

int bench_turns(const bench_turns_options& opts);

struct bench_fanout_options {
  uint64_t children = 1000;  ///< children of the one lead, all in one reply
  uint32_t worker_turns = 3; ///< turns per child (echo, then complete)
  bool json = false;
};

int bench_fanout(const bench_fanout_options& opts);

struct bench_recovery_options {
  uint64_t runs = 10000;     ///< runs in flight when the process is killed
  uint32_t long_turns = 1000; ///< turns of the long, growing run
  bool json = false;
};

int bench_recovery(const bench_recovery_options& opts);

struct bench_gateway_options {
  uint64_t concurrency = 1000; ///< model requests kept in flight
  uint64_t requests = 0;       ///< measured requests; 0: 20 per request in flight
  uint32_t first_chunk_ms = 50; ///< the server's delay before the first chunk
  uint32_t chunks = 20;         ///< content deltas per reply
  uint32_t chunk_gap_ms = 0;    ///< the server's delay before each content delta
  uint32_t server_threads = 1;
  bool json = false;
};

int bench_gateway(const bench_gateway_options& opts);

} // namespace troupe::cli
