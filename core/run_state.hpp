#pragma once
// The run state machine. A run's state is a pure fold over its events
// (`apply`); what the run does next is a pure function of that state
// (`next_step`). No clock, I/O or randomness in here: time enters as event
// timestamps, everything else as event bodies. The run actor performs steps
// and feeds the resulting events back; replay feeds the journal's.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/chat.hpp"
#include "core/run_result.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// The name of the tool that ends a run.
inline constexpr std::string_view complete_tool = "complete";

/// One tool call of the current reply, as the run tracks it.
struct call_slot {
  /// As the model sent it; `args_json` is the envelope's normalized form once
  /// an approval_request or the tool_call journaled it (`args_normalized`).
  tool_call_ref call;
  using state = call_status;
  state status = state::pending;
  bool args_normalized = false;
  /// What the journaled policy_decision granted, and its rule; the tool
  /// request is built from this, never from the policy loaded now.
  call_grants grants{};
  std::string rule{};
  /// A delegate call whose child was journaled and has not ended (the
  /// delegation is in run_state::children).
  bool child_running = false;
  /// A delegate call whose child ended (its delegation_result is folded):
  /// what the model is shown. The run journals it right after the
  /// delegation_result; a crash between the two leaves it to be decided.
  std::optional<tool_result> child_answer{};
};

/// What the model is shown and what a runtime-written summary quotes. It is
/// folded from the same events as the control state but by a fold of its own
/// (it reads nothing of the control state), because it is the one part of a
/// run that grows with the run: checkpoint snapshots leave it out, and a run
/// restored from a checkpoint gets it by folding only this part over the
/// events before the checkpoint.
struct transcript {
  std::vector<chat_message> conversation;
  std::vector<std::string> recent_results; ///< last few tool outcomes, for summaries
  /// Where the current turn's messages begin: its replies' calls are the ones
  /// a denial can name.
  size_t turn_begins = 0;
  std::string recovery_reason; ///< quoted by the recovery turn's prompt
  /// One report per run of the task's checks (core/verification.hpp); a fix
  /// turn shows the last, the final result all of them.
  std::vector<std::string> verification_log;
  uint32_t max_fix_attempts = 1; ///< from run_start, for the fix turn's text
};

/// Where one phase of a team run stands (core/team.hpp), folded from its
/// phase_start, delegation results, approval decisions and gate events.
struct phase_progress {
  enum class status : uint8_t { pending, running, succeeded, failed } state = status::pending;
  uint32_t attempt = 0;
  std::optional<delegation_result> work;   ///< the role's run of this attempt, once ended
  std::optional<delegation_result> review; ///< an approving role's answer
  std::optional<approval_decision> approval; ///< a person's decision
  std::string feedback; ///< why the last attempt did not pass, for the next one
};

struct run_state {
  // -- identity, from run_start ---------------------------------------------
  std::string run_id;
  std::string agent;
  std::string model;
  std::vector<std::string> tools;
  limits_record limits;
  int64_t started_us = 0;
  int64_t last_ts_us = 0; ///< timestamp of the latest event: the run's clock

  // -- progress -------------------------------------------------------------
  run_phase phase = run_phase::created;
  uint32_t turn = 0;
  turn_mode mode = turn_mode::normal;
  turn_mode next_mode = turn_mode::normal;
  std::vector<call_slot> calls;    ///< tool calls of the current reply
  bool reply_had_calls = false;    ///< current turn's reply asked for tools
  bool reply_failed = false;       ///< current turn's reply was a failure
  bool turn_had_parse_failure = false;
  uint32_t consecutive_errors = 0;
  uint32_t consecutive_provider_failures = 0;
  bool cancel_requested = false;
  std::string recovery_reason;     ///< set once a limit started recovery
  std::string out_of_scope;        ///< memo of a call outside the run's scope
  std::vector<approval_request> pending_approvals; ///< asked, not yet decided
  /// A turn ended, or a tool result (one that left calls of the reply to
  /// handle, under `checkpoint_per_turn`): the next thing the run journals is
  /// a checkpoint. Never waited for: the events hold everything it does (it
  /// only shortens reading the run back).
  bool checkpoint_due = false;
  /// run_start asked for per-turn checkpoints; runs begun by older builds
  /// checkpoint after every tool result, and replay follows their rule.
  bool checkpoint_per_turn = false;
  std::string tenant;
  std::string workspace; ///< run_start's workspace root, for the scope boundary
  kpis totals;

  // -- delegation (core/delegation.hpp) ----------------------------------------
  uint32_t depth = 0;
  std::vector<std::string> delegates; ///< agents it may delegate to
  bool wait_for_children = false;     ///< its completion waits for running children
  std::vector<delegation> children;   ///< delegations whose result has not come back
  uint32_t children_started = 0;

  // -- self-verification (core/verification.hpp) --------------------------------
  std::vector<gate_check> verification;
  uint32_t max_fix_attempts = 0;
  uint32_t verification_attempts = 0;
  bool verified = false;
  bool fix_due = false; ///< this turn's checks failed: the next turn is a fix turn
  std::optional<troupe::verification> last_verification;
  std::string artifact; ///< the file the run must produce
  std::string role;
  std::string role_phase; ///< a role run's phase of its team
  std::vector<troupe::artifact> artifacts; ///< journaled

  // -- a team run (core/team.hpp) -------------------------------------------------
  std::string team;
  std::vector<team_phase> phases;
  std::vector<phase_progress> progress; ///< one per phase

  // -- the end ----------------------------------------------------------------
  std::optional<completion> outcome;
  /// The answer `complete` gave, once its call was journaled.
  std::optional<std::pair<std::string, std::string>> complete_call; ///< status, answer

  // -- what the model sees ----------------------------------------------------
  transcript chat;

  [[nodiscard]] bool in_recovery() const noexcept {
    return !recovery_reason.empty();
  }
};

/// Folds one event into the state (control state and transcript). Events
/// must come in seq order.
void apply(run_state& st, const event& ev);

/// Folds one event into a transcript alone: `apply(st, ev)` does exactly this
/// to `st.chat`.
void apply(transcript& t, const event& ev);

// -- steps: what the run does next --------------------------------------------

/// Journal turn_start for `turn` in `mode`.
struct start_turn_step {
  uint32_t turn;
  turn_mode mode;
};

/// Journal model_request and ask the route, offering `tools`.
struct ask_model_step {
  uint32_t turn;
  std::vector<std::string> tools;
};

/// Vet call `index` of the current reply: refuse it (limit reached, tool not
/// offered: an `error` with the call id), or run the envelope (failure:
/// `parse_failure`), the scope boundary (a write outside the workspace:
/// `error` out_of_scope, which fails the run) and the policy
/// (`policy_decision`; allow → `tool_call`, durable unless the tool is pure,
/// ask → `approval_request`).
/// With `decided`, the policy or an approver already allowed it: journal the
/// `tool_call`.
struct vet_call_step {
  size_t index;
  std::string refusal; ///< non-empty: refuse with this reason instead
  bool decided = false;
};

/// Journal the approval_request of call `index`, whose policy said ask, and
/// wait for a person's decision.
struct request_approval_step {
  size_t index;
};

/// Execute call `index` (its tool_call journaled, durable unless pure) and
/// journal tool_result; a delegate call journals its `delegation` and starts the child, whose
/// result comes back as an input while the run goes on with the next calls.
struct execute_call_step {
  size_t index;
};

/// Journal a checkpoint (see run_state::checkpoint_due).
struct checkpoint_step {};

/// Journal turn_end and a checkpoint.
struct end_turn_step {
  uint32_t turn;
};

/// Journal recovery: a limit was hit.
struct recover_step {
  std::string reason;
  std::string detail;
};

/// Run the task's checks (attempt `attempt`); the verification is the next
/// input.
struct verify_step {
  uint32_t attempt;
};

/// Journal the artifact the passed checks found.
struct record_artifact_step {};

/// Journal the completion (durable) and stop.
struct finish_step {
  completion outcome;
};

/// Nothing to do until an awaited reply or result (a child's, too) arrives.
struct wait_step {};

using run_step = std::variant<start_turn_step, ask_model_step, vet_call_step,
                              request_approval_step, execute_call_step,
                              checkpoint_step, end_turn_step, recover_step,
                              verify_step, record_artifact_step, finish_step, wait_step>;

/// The next step of a run. Pure: equal states give equal steps.
[[nodiscard]] run_step next_step(const run_state& st);

/// The summary the runtime writes itself when the recovery turn fails too.
[[nodiscard]] std::string runtime_summary(const run_state& st);

/// Whether a call would write outside its workspace, judged from the path's
/// spelling alone (absolute, or with a `..` component), so that replay decides
/// the same way on any machine. Tools that are not pure and take a `path`
/// write; those with a `cwd` work there. MCP tools (`server__tool`) take
/// absolute paths, so theirs may be absolute inside `workspace_root`
/// (`mcp_path_outside`, core/mcp/mcp_catalog.hpp). Returns the memo to
/// journal, or an empty string.
[[nodiscard]] std::string scope_violation(const std::string& tool_name,
                                          bool tool_is_pure,
                                          const nlohmann::json& args,
                                          std::string_view workspace_root = {});

/// How the run ended, for its owner and its parent.
[[nodiscard]] run_result result_of(const run_state& st);

/// Whether call `call_id` is a delegation whose child has not ended.
[[nodiscard]] bool child_running(const run_state& st, const std::string& call_id);

/// Maps `complete`'s status argument to the run status.
[[nodiscard]] run_status status_of_complete(std::string_view status,
                                            bool in_recovery);

} // namespace troupe
