#pragma once
// The run actor: a thin shell around core/run_decisions. It asks for the
// next decision, journals its events, performs its effect (model route, tool
// pool, approvals) and folds what comes back into the state.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "core/policy.hpp"
#include "core/run_decisions.hpp"
#include "core/run_rebuild.hpp"
#include "core/run_result.hpp"
#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// What one run needs from its surroundings. Copied into the actor.
struct run_wiring {
  caf::actor journal;
  caf::actor route; ///< the model route of the agent's model
  caf::actor tools; ///< the tool pool
  /// The run supervisor, which starts (and finds again) delegated children:
  /// `(delegate_atom, child_order) -> run_result`. Weak: set by the supervisor.
  caf::actor_addr supervisor;
  /// MCP servers by `[mcp.NAME]`: their tools' calls (`NAME__tool`) go to
  /// these actors (actors/mcp_server.hpp) instead of the pool.
  std::map<std::string, caf::actor> mcp_servers;
  std::shared_ptr<const tool_registry> registry;
  /// Decides every tool call; never null for a started run.
  std::shared_ptr<const policy> governance;
  /// Values of every secret the run's policy can grant: every tool result is
  /// redacted of them before it is journaled or shown to the model, whichever
  /// tool produced it (a file a shell wrote a token into, read back later).
  std::shared_ptr<const std::map<std::string, std::string>> redactions;
  /// Answers `(approval_atom, approval_ticket) -> approval_decision`; when
  /// null, every `ask` is denied at once (fail closed).
  caf::actor approvals;
  /// Reads the clock for event timestamps (microseconds since the epoch).
  std::function<int64_t()> clock;
  /// Called for every event the run journals, in order (progress output).
  std::function<void(const event&)> on_event;
  /// Called once with the result, after the completion is durable.
  std::function<void(const run_result&)> on_done;
  std::chrono::milliseconds model_timeout{60000};
  std::chrono::milliseconds tool_timeout{60000};
  /// Attempts of a tool call whose failures are retryable, and the backoff
  /// (core/run_decisions.hpp `plan_retry`).
  retry_policy retries;
};

/// What to run.
struct run_spec {
  std::string run_id;
  std::string parent_run_id;
  std::string root_run_id;
  run_start start; ///< agent, task, model, tools, limits, workspace, ...
  /// The run read back from its journal when it resumes (after a crash or
  /// restart): its latest usable checkpoint and the events after it
  /// (core/run_rebuild.hpp). Null for a new run. Shared, so that copies of
  /// the spec do not copy the conversation; the run actor takes it over.
  std::shared_ptr<rebuilt_run> resumed;
};

/// A run's request for the child of its journaled delegation: started, found
/// running, or found ended in the journal (after a crash).
struct child_order {
  std::string parent_run_id;
  std::string root_run_id; ///< the tree's root
  run_start parent;        ///< the parent's run_start (scenario, tenant, ...)
  delegation child;
};

/// Builds the spec of a journaled run read back by a run_rebuilder.
[[nodiscard]] run_spec spec_from_journal(rebuilt_run run);

/// Spawns a run. A new run journals run_start; a resumed one restores its
/// state from its latest checkpoint, folds the events after it and
/// continues where the journal ends: a tool call whose intent is
/// durable but whose result is not is re-executed only when its tool is pure
/// or idempotent; an unsafe one is reported to the model as uncertain. The
/// run drives itself to completion. Send it `cancel_atom` to cancel.
[[nodiscard]] caf::actor spawn_run(caf::actor_system& sys, run_spec spec,
                                   run_wiring wiring);

/// Microseconds since the Unix epoch from the system clock.
[[nodiscard]] int64_t system_clock_us();

} // namespace troupe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::child_order)
