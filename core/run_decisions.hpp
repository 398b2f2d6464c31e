#pragma once
// Every decision a run journals, in one place. `decide_next` takes a run's
// folded state and says what the run does next: the events it journals
// itself (its decisions) and the effect that follows them (ask the model,
// run a tool, wait for a person, stop). The run actor performs the effect;
// replay calls the very same function and compares the events with the
// journal's, and the awaited input with the journal's next input. A new kind
// of decision (a route choice, a delegation, a gate) is added here, and
// replay checks it with no code of its own.
//
// Pure, like run_state.hpp: time comes in as `now_us`, randomness as a
// journaled draw (`plan_retry`), a crash as `recovered` call ids. The actor
// keeps only I/O: sending, receiving, timers.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/policy.hpp"
#include "core/run_state.hpp"
#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// What a decision reads besides the state.
struct decision_inputs {
  const tool_registry& registry;
  const policy& governance;
  /// The run's clock now (an approval's deadline is counted from it).
  int64_t now_us = 0;
  /// Calls whose tool_call was journaled before a crash and whose result was
  /// not: the run does not know whether their effect happened.
  const std::set<std::string>* recovered = nullptr;
};

// -- effects: what follows the journaled events --------------------------------

/// Nothing to perform: decide again.
struct go_on {};
/// Send the current turn's model request (journaled as model_request) offering
/// `tools`; its reply is the next input.
struct ask_model {
  std::vector<std::string> tools;
};
/// Run the call, whose tool_call is journaled (durable unless pure), with
/// exactly what its journaled policy_decision granted; its tool_result is the
/// next input.
struct run_tool {
  tool_call_ref call; ///< arguments normalized by the envelope
  call_grants grants;
};
/// Wait for a person's decision on `request` (or its deadline).
struct await_approval {
  approval_request request;
};
/// Start (or find again, after a crash) the child of a delegation whose
/// `delegation` event is journaled; the run goes on deciding at once. The
/// child's end comes back as the inputs `delegation_result` + `tool_result`
/// (core/delegation.hpp).
struct start_child {
  delegation child;
};
/// Run the task's checks (attempt `attempt`) through the `_verify` tool with
/// `request` (core/verification.hpp); the `verification` is the next input.
struct run_checks {
  uint32_t attempt = 0;
  std::string request;
};
/// The completion is journaled: the run is over.
struct stop {};
/// Nothing to do until an input arrives.
struct idle {};

using run_effect =
  std::variant<go_on, ask_model, run_tool, await_approval, start_child, run_checks, stop,
               idle>;

/// How long the last journaled event must be on disk before the effect.
enum class durability : uint8_t {
  accepted, ///< in the journal's queue: a crash may lose it, then it is decided again
  durable,  ///< committed: the effect (or the next step) acts on the world
};

struct decision {
  std::vector<event_body> journal; ///< in order; may be empty
  durability wait = durability::accepted;
  run_effect effect;
};

/// What the run does next. Pure: equal arguments give equal decisions.
[[nodiscard]] decision decide_next(const run_state& st, const decision_inputs& in);

/// The checkpoint the run journals now.
[[nodiscard]] checkpoint checkpoint_of(const run_state& st);

// -- retries of retryable tool failures ------------------------------------------

struct retry_policy {
  uint32_t max_attempts = 3;
  std::chrono::microseconds base_delay{100000};
  std::chrono::microseconds max_delay{5000000};
};

/// Whether a failed attempt (`attempt` counts from 1) is tried again, and
/// after how long: exponential backoff scaled by the journaled `jitter` draw
/// in [0, 1). Returns the retry event to journal, or nothing when the failure
/// becomes the call's result.
[[nodiscard]] std::optional<retry> plan_retry(const std::string& call_id,
                                              uint32_t attempt, bool retryable,
                                              double jitter, const retry_policy& p,
                                              std::string reason);

} // namespace troupe
