#pragma once
// troupe's embedding API: the one header a C++ service includes.
//
//   auto rt = troupe::runtime::create({"service.db"});
//   rt->register_tool(my_tool);                        // before the first run
//   auto sc = rt->load_scenario("agents.toml");
//   auto run = rt->start(*sc, {"Summarize the report"});
//   troupe::run_result r = run->result().get();        // or pass a callback
//
// Every run is an actor inside the runtime's CAF actor system; every step of
// it is journaled to the SQLite database given at creation.

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/mcp/mcp_catalog.hpp"
#include "core/model_provider.hpp"
#include "core/run_result.hpp"
#include "core/scenario.hpp"
#include "core/tool.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "troupe/runtime_stats.hpp"

namespace caf {
class actor_system;
}

namespace troupe {

/// One endpoint:model pair's health as the model gateway sees it: the JSON
/// document it also keeps in the journal for `troupe models` (score,
/// breaker, latencies, error rate, last check; core/gateway/health_json.hpp).
struct gateway_health_report {
  std::string key;      ///< endpoint:model
  int64_t taken_us = 0; ///< when (microseconds since the Unix epoch)
  std::string document;
};

/// A tool call waiting for a person's decision.
struct pending_approval {
  std::string run_id;
  std::string call_id;
  std::string tool;
  std::string args_json;
  std::string rule;
  int64_t deadline_us = 0; ///< denied automatically after this (fail closed)
  int64_t requested_us = 0; ///< when the run asked
};

struct runtime_options {
  /// `runtime::create({"service.db"})` names only the journal.
  runtime_options(std::string db = "troupe.db") : db_path(std::move(db)) {}

  std::string db_path;
  /// Detached threads that execute tools.
  size_t tool_workers = 2;
  /// CAF scheduler threads; 0 keeps CAF's default (max(cores, 4)).
  size_t scheduler_threads = 0;
  /// Resume the journal's unfinished runs before the first new run starts.
  bool resume_on_first_start = true;
  /// Resumed runs alive at once; the rest wait their turn, so a restart with
  /// many unfinished runs does not stampede models and tools.
  size_t resume_concurrency = 64;
  /// Crash restarts of a run: more than `max_restarts` within `window` fail it.
  uint32_t max_restarts = 3;
  std::chrono::milliseconds restart_window{10000};
  /// The secrets file (`NAME=value` lines); names it lacks come from the
  /// environment. Policy rules grant secrets to tools by name.
  std::string secrets_file;
  /// The `shell` tool's sandbox workers and its worker program (empty:
  /// beside this executable, then PATH).
  size_t sandbox_workers = 2;
  std::string sandbox_worker_binary;
  /// Called for every new approval request (policy `ask`), on a runtime
  /// thread; decide it with decide_approval(), here or from anywhere else.
  std::function<void(const pending_approval&)> on_approval_requested;
  /// Streamed text of routed models as it arrives (run id, piece), for a
  /// live display; called on an I/O thread: keep it short, never block.
  /// Deltas are not journaled: the whole reply is, once it is complete.
  std::function<void(const std::string& run_id, std::string_view text)> on_model_delta;
  /// How often each endpoint of a routed model is checked (its model
  /// listing; `troupe models` shows the last result). 0 turns checks off.
  std::chrono::milliseconds endpoint_check_interval{30000};
};

struct run_request {
  std::string task;  ///< overrides the scenario's task when not empty
  std::string agent; ///< overrides the scenario's starting agent when not empty
  /// The run's id; empty: the runtime gives one. A caller that must know the
  /// id before the run starts (a job queue, which restarts a job whose run
  /// never reached the journal) chooses it: 1-64 of [A-Za-z0-9_-], and new to
  /// the journal (random bits make it so).
  std::string run_id;
  /// The tenant journaled in run_start; empty: the scenario's.
  std::string tenant;
  /// Caps on the scenario's token and spend limits (0: none), e.g. what a
  /// tenant's budget has left: the run reaches its limit instead of passing it.
  uint64_t max_tokens = 0;
  uint64_t max_cost_micro_usd = 0;
  /// Called for every journaled event of this run, in order, on a runtime
  /// thread. Keep it short; it must not block.
  std::function<void(const event&)> on_event;
  /// Called once when the run ended and its completion is durable.
  std::function<void(const run_result&)> on_done;
};

/// A started run.
class run_handle {
public:
  run_handle(std::string id, std::shared_future<run_result> result)
    : id_(std::move(id)), result_(std::move(result)) {}

  const std::string& id() const noexcept { return id_; }

  /// Becomes ready when the run ended (completion durable in the journal).
  const std::shared_future<run_result>& result() const noexcept {
    return result_;
  }

private:
  std::string id_;
  std::shared_future<run_result> result_;
};

class runtime {
public:
  /// Opens (creating or migrating) the journal and starts the actor system.
  [[nodiscard]] static caf::expected<std::unique_ptr<runtime>>
  create(runtime_options opts);

  /// Cancels runs still in flight, waits for them to journal their end, and
  /// stops the actor system. Resumed runs still waiting for a slot
  /// (`resume_concurrency`) are not started: they stay unfinished in the
  /// journal, and their results say status `running`, reason `not_resumed`.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Adds a C++ tool. Tools are fixed once the first run started.
  [[nodiscard]] caf::error register_tool(tool_definition def);

  /// Serves the model named `model` (a `[models.<model>]` entry) with
  /// `provider` instead of the scenario's provider.
  [[nodiscard]] caf::error register_provider(const std::string& model,
                                             std::shared_ptr<model_provider> provider);

  /// Names of every registered tool (built-ins included).
  [[nodiscard]] std::vector<std::string> tool_names() const;

  /// Parses a scenario file against the registered tools.
  [[nodiscard]] caf::expected<scenario>
  load_scenario(const std::string& path) const;

  /// What the MCP servers of `sc` offer its agents: each server's visible
  /// tools (qualified names, effect classes, the schemas troupe enforces and
  /// what it dropped) and the tools it cannot offer, with why. Starts the
  /// servers that are not running (they stay up for the runs that follow)
  /// and blocks until each answered or failed. Errors: a server that cannot
  /// be started, naming it and why.
  [[nodiscard]] caf::expected<std::vector<mcp_listing>> mcp_offers(const scenario& sc);

  /// Starts a run of `sc` asynchronously. A scenario with `[mcp.NAME]`
  /// servers first gets their offers (`mcp_offers`): agents may list only
  /// tools on offer, and the run journals them in its run_start.
  [[nodiscard]] caf::expected<run_handle> start(const scenario& sc,
                                                run_request req);

  /// Makes a scenario known for resume: runs whose run_start names this
  /// scenario (its `source`) continue with its policy and scripts. Scenarios
  /// passed to start() are known already; a scenario built in code must be
  /// registered again after a restart, before resume().
  void register_scenario(const scenario& sc);

  /// Continues every run of the journal that has not ended (after a crash of
  /// the process), at most `resume_concurrency` at a time. Pure and
  /// idempotent tools whose results were not journaled run again; unsafe ones
  /// are reported to the model as uncertain. Scripted runs reload their
  /// scenario file from the path in their run_start; runs of models served by
  /// `register_provider` need that provider registered first, and their
  /// scenario registered (register_scenario) unless it is a file. Runs that
  /// cannot resume are returned as errors, and stay unfinished.
  [[nodiscard]] std::vector<caf::expected<run_handle>> resume(
    std::function<void(const run_result&)> on_done = {});

  /// Approval requests not yet decided, in this runtime's journal.
  [[nodiscard]] caf::expected<std::vector<pending_approval>> pending_approvals() const;

  /// Every endpoint:model pair the model gateway used in this process, with
  /// its health now (as `gateway_health_report`). Empty before the first run
  /// of a routed model.
  [[nodiscard]] std::vector<gateway_health_report> gateway_health() const;

  /// Approves or denies a pending request; the waiting run continues. Errors
  /// when there is no such request or it was decided already.
  [[nodiscard]] caf::error decide_approval(const std::string& run_id,
                                           const std::string& call_id, bool approved,
                                           const std::string& by,
                                           const std::string& reason = {});

  /// Asks a run to stop; it journals `canceled` at its next step boundary.
  /// Returns false when no such run is in flight.
  bool cancel(const std::string& run_id);

  /// The journal writer's, sandbox pool's and endpoints' figures now; never
  /// waits for a busy actor (troupe/runtime_stats.hpp). Any thread.
  [[nodiscard]] runtime_stats stats() const;

  /// The result of a run this runtime finished, if any.
  [[nodiscard]] std::optional<run_result> result(const std::string& run_id) const;

  caf::actor_system& system();

private:
  struct impl;
  explicit runtime(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe
