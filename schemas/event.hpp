#pragma once
// Plain C++ mirror of schemas/journal.capnp. Everything above the schemas layer
// works with these structs; schemas/codec.hpp converts them to and from the
// Cap'n Proto bytes that travel between actors and land in the journal.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace troupe {

struct usage {
  uint64_t input = 0;
  uint64_t output = 0;
};

struct tool_call_ref {
  std::string call_id;
  std::string name;
  std::string args_json;
};

/// Budgets of one run; reaching one triggers the recovery turn. The
/// defaults are what a scenario without `[limits]` gets. For the two error
/// tolerances 0 means "the first such event is the limit".
struct limits_record {
  uint32_t max_turns = 12;
  uint32_t max_tool_calls = 50;
  uint64_t max_tokens = 100000;
  uint64_t deadline_ms = 120000;
  uint32_t max_consecutive_errors = 3;
  /// Repair turns (malformed tool arguments) allowed per run before one more
  /// counts as reaching a limit.
  uint32_t max_parse_failures = 3;
  /// Spend of model replies, from their endpoints' prices; 0: no limit.
  uint64_t max_cost_micro_usd = 0;
  /// Delegation allowances, split down the tree like the budgets above: how
  /// many levels may lie below this run, how many children it may start, how
  /// many runs its whole subtree may hold. 0: it may not delegate.
  uint32_t max_depth = 3;
  uint32_t max_children = 8;
  uint32_t max_descendants = 63;
};

/// Key performance indicators of a run, folded from its events.
struct kpis {
  uint32_t turns = 0;
  uint32_t tool_calls = 0;
  uint32_t model_calls = 0;
  uint32_t parse_failures = 0;
  uint32_t retries = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t wall_ms = 0;
  uint32_t tool_errors = 0;
  uint32_t model_errors = 0;
  uint32_t denials = 0; ///< calls refused by policy or by an approver
  uint64_t cost_micro_usd = 0;
  /// What the run's finished descendants spent (their own KPIs with their
  /// descendants'), from their delegation results: a run's limits bound its
  /// whole subtree.
  uint32_t descendant_runs = 0;
  uint32_t descendant_turns = 0;
  uint32_t descendant_tool_calls = 0;
  uint64_t descendant_tokens = 0;
  uint64_t descendant_cost_micro_usd = 0;
};

enum class turn_mode : uint8_t { normal, reminder, repair, recovery, fix };

enum class run_status : uint8_t { running, completed, limit_reached, failed, canceled };

/// What a policy rule (or the default) decided for a tool call.
enum class decision_kind : uint8_t {
  allow,
  deny,
  ask, ///< run only after a human approves; no answer in time means deny
};

/// What an `error` event reports. The journal stores the snake_case name.
enum class error_kind : uint8_t {
  refused,      ///< the call was not vetted: tool not offered, limit reached
  out_of_scope, ///< the call would act outside the run's workspace; ends the run
  canceled,     ///< an operator canceled the run
  uncertain,    ///< a crash left an unsafe call's outcome unknown; not rerun
};

/// Where a run is within its turn loop.
enum class run_phase : uint8_t {
  created,        ///< no run_start yet
  between_turns,  ///< the next thing is a turn (or recovery, or the end)
  turn_started,   ///< turn_start journaled; the model has not been asked
  awaiting_reply, ///< model_request journaled
  handling_calls, ///< the reply's tool calls are being vetted and executed
  finished,       ///< completion journaled
};

/// Where one tool call of the current reply is.
enum class call_status : uint8_t {
  pending,           ///< not yet vetted
  approved,          ///< policy (or an approver) allowed it; intent not yet journaled
  awaiting_approval, ///< policy said ask; the run waits for a decision
  in_flight,         ///< intent journaled, no result yet
  done,
};

// One string table per kind (schemas/event.cpp): the names the journal, the
// exports and the CLI use. `from_string` returns false on an unknown name.
[[nodiscard]] std::string_view to_string(turn_mode x);
[[nodiscard]] std::string_view to_string(run_status x);
[[nodiscard]] std::string_view to_string(decision_kind x);
[[nodiscard]] std::string_view to_string(error_kind x);
[[nodiscard]] std::string_view to_string(run_phase x);
[[nodiscard]] std::string_view to_string(call_status x);
[[nodiscard]] bool from_string(std::string_view name, run_status& out);
[[nodiscard]] bool from_string(std::string_view name, decision_kind& out);
[[nodiscard]] bool from_string(std::string_view name, error_kind& out);

// -- event bodies, one per kind ----------------------------------------------

/// A gate of a team's phase, or a verification step of a run's task.
struct gate_check {
  std::string name;
  std::string kind; ///< file_exists, command_succeeds, test_passes, json_matches, approved_by
  std::string path; ///< file_exists, json_matches: workspace-relative
  std::vector<std::string> argv; ///< command_succeeds, test_passes
  std::string schema;            ///< json_matches: JSON Schema text
  std::string approver;          ///< approved_by: a role, or "person"
};

struct check_result {
  std::string name;
  std::string kind;
  bool ok = false;
  std::string output; ///< an excerpt: why it failed, or what it saw
  std::string sha256; ///< file_exists: the file's content hash
  uint64_t bytes = 0;
  uint64_t lines = 0;
};

/// When a phase may be skipped: the phase before passed on its first attempt
/// and its artifacts are at most so many files and lines.
struct skip_rule {
  bool first_try = true;
  uint32_t max_files = 0;
  uint64_t max_lines = 0;
};

/// One phase of a team.
struct team_phase {
  std::string name;
  std::string role; ///< an agent of the scenario
  std::string task;
  std::vector<gate_check> gate; ///< checked in the role's run, whose fix turns retry
  std::string approver;    ///< approved_by: a role, or "person"; empty: none
  uint32_t max_attempts = 3;
  std::optional<skip_rule> skip_if;
};

/// A file a role produced, with its content hash.
struct artifact {
  std::string path;
  std::string sha256;
  uint64_t bytes = 0;
  uint64_t lines = 0;
  std::string role;
  std::string phase;
};

/// A tool the build does not define (an MCP server's), journaled with the
/// run that may call it.
struct external_tool {
  std::string name;
  std::string description;
  std::string parameters_json;
  std::string effect; ///< "pure", "idempotent" or "unsafe"
};

struct run_start {
  std::string agent;
  std::string tenant;
  std::string task;
  std::string model;
  std::string instructions;
  std::vector<std::string> tools;
  limits_record limits;
  std::string scenario;
  std::string workspace;
  std::vector<external_tool> external_tools;
  uint32_t depth = 0; ///< 0 for a top-level run
  /// The agents it may delegate to (the scenario's delegation graph).
  std::vector<std::string> delegates;
  /// What its completion does to children still running: "cancel" (also
  /// when empty) or "wait" (it completes once they ended).
  std::string children_on_end;
  std::string parent_call_id; ///< the parent's delegate call; empty at the root
  /// Checks run after `complete`; a failure is a fix turn, up to
  /// `max_fix_attempts` (core/verification.hpp).
  std::vector<gate_check> verification;
  uint32_t max_fix_attempts = 0;
  std::string artifact; ///< the file this run must produce
  std::string role;     ///< a team's role run: its role and phase
  std::string phase;
  std::string team;     ///< a team run: its team and phases (core/team.hpp)
  std::vector<team_phase> phases;
  /// When it checkpoints after a tool result: `per_turn_checkpoints`, or
  /// empty (a run begun by an older troupe: after every result).
  std::string checkpoints;
};

/// run_start::checkpoints of every run begun now (core/run_state.cpp).
inline constexpr const char* per_turn_checkpoints = "per_turn";

/// A delegate call's child, journaled by the parent before the child starts.
struct delegation {
  std::string call_id;
  std::string child_run_id;
  std::string agent;
  std::string task;
  limits_record limits; ///< the child's budget, split from the parent's
  uint32_t depth = 0;   ///< the child's
  std::string output_schema; ///< JSON Schema text the answer must match; empty: any
  std::vector<gate_check> checks; ///< the child's verification (a phase's gate)
  uint32_t max_fix_attempts = 0;
  std::string role;
  std::string phase;
  std::string artifact;
};

struct turn_start {
  uint32_t turn = 0;
  turn_mode mode = turn_mode::normal;
};

struct model_request {
  uint32_t turn = 0;
  std::string route;
  std::vector<std::string> tools;
  uint32_t messages = 0;
};

struct model_reply {
  uint32_t turn = 0;
  std::string text;
  std::vector<tool_call_ref> tool_calls;
  usage tokens;
  std::string failure; ///< empty on success; else a model_failure name
  uint64_t latency_us = 0;
  std::string endpoint; ///< who answered; empty for scripted replies
  std::string model;
  uint64_t first_token_us = 0;
  uint64_t cost_micro_usd = 0;
  std::string finish_reason;
  std::string failure_detail; ///< keys redacted
};

struct tool_call {
  std::string call_id;
  std::string name;
  std::string args_json;
};

/// What a rule grants the call it allows (or asks about). Journaled in the
/// decision so that the call gets exactly this, live and after a restart,
/// whatever policy is loaded by then.
struct call_grants {
  std::vector<std::string> secrets; ///< secret names the tool receives
  bool network = false;
  bool unsandboxed = false;
  uint64_t approval_timeout_ms = 0; ///< `ask` only: how long a person has
};

struct policy_decision {
  std::string call_id;
  decision_kind decision = decision_kind::deny;
  std::string rule;
  std::string policy_version;
  std::string reason;
  call_grants grants; ///< empty on deny
};

struct tool_result {
  std::string call_id;
  std::string name;
  bool ok = true;
  std::string output;
};

struct turn_end {
  uint32_t turn = 0;
};

struct recovery {
  std::string reason;
  std::string detail;
};

struct completion {
  run_status status = run_status::completed;
  std::string answer;
  std::string summary;
  std::string reason;
  kpis totals;
};

struct error_event {
  error_kind code = error_kind::refused;
  std::string message;
  std::string call_id;
};

struct parse_failure {
  std::string call_id;
  std::string name;
  std::string args_json;
  std::string reason;
};

struct approval_request {
  std::string call_id;
  std::string tool;
  std::string args_json;
  std::string rule;
  int64_t deadline_us = 0; ///< after this the request is denied (fail closed)
};

/// `count` consecutive calls of the current reply in one status.
struct call_run {
  call_status status = call_status::pending;
  uint32_t count = 0;
};

/// What a run holds of call `index` of the current reply beyond the reply,
/// from its policy decision until it is done.
struct decided_call {
  uint32_t index = 0;
  std::string rule;
  call_grants grants;
  /// Normalized by an approval_request or the tool_call; none: the reply's.
  std::optional<std::string> args_json;
};

/// A run's control state at a checkpoint (RunSnapshot in journal.capnp says
/// what it leaves out and why); core/run_snapshot.hpp maps it to and from
/// run_state.
struct run_snapshot {
  run_phase phase = run_phase::created;
  turn_mode mode = turn_mode::normal;
  turn_mode next_mode = turn_mode::normal;
  int64_t last_ts_us = 0;
  std::vector<call_run> calls;
  std::vector<decided_call> decided;
  bool reply_had_calls = false;
  bool reply_failed = false;
  bool turn_had_parse_failure = false;
  bool cancel_requested = false;
  uint32_t consecutive_errors = 0;
  uint32_t consecutive_provider_failures = 0;
  std::string recovery_reason;
  std::string out_of_scope;
  /// The status and answer `complete` gave, once its call was journaled.
  std::optional<std::pair<std::string, std::string>> complete_call;
  std::vector<approval_request> pending_approvals;
  uint32_t messages = 0; ///< length of the conversation
  std::vector<delegation> children; ///< delegations still running
  uint32_t children_started = 0;
  uint32_t verification_attempts = 0;
  bool verified = false;
};

struct checkpoint {
  uint32_t turn = 0;
  kpis totals;
  /// The hand-rolled snapshot record of journals written before snapshots
  /// were a struct. Never interpreted (such a checkpoint has no usable
  /// snapshot); carried so that an old event re-encodes to its own bytes.
  std::string state;
  /// Absent in old journals, and when the snapshot holds a value this build
  /// does not know (a newer writer's phase, say): readers then fold.
  std::optional<run_snapshot> snapshot{};
};

struct approval_decision {
  std::string call_id;
  bool approved = false;
  std::string by; ///< the approver, or "timeout"
  std::string reason;
};

/// A retryable tool failure, retried after `delay_us`; the random draw is
/// journaled so replay is exact.
struct retry {
  std::string call_id;
  uint32_t attempt = 0;
  uint64_t delay_us = 0;
  double jitter = 0;
  std::string reason;
};

/// One candidate of a route as the gateway saw it when it chose.
/// The journal's form of core/gateway/route_choice.hpp's `route_candidate`:
/// the same fields, the breaker by name.
struct route_candidate_record {
  std::string endpoint;
  std::string model;
  std::string breaker;       ///< closed, open, half_open
  bool probing = false;      ///< half_open: its one probe is out
  int64_t open_until_us = 0; ///< open: when its cool-down ends
  double score = 0;          ///< health in [0, 1]
  double latency_ms = 0;
  double error_rate = 0;
  uint64_t input_micro_usd_per_mtok = 0;
  uint64_t output_micro_usd_per_mtok = 0;
  double quality = 0;
  bool full = false; ///< its endpoint's concurrency was saturated
};

/// One attempt at answering a model request, journaled before the request's
/// model_reply: the candidates, the choice, why, and how it ended. An input
/// to the run (it depends on live health), checked by replay: choosing again
/// from `candidates` must give `chosen`.
struct route_attempt {
  uint32_t turn = 0;
  uint32_t attempt = 0; ///< from 1
  std::string route;
  std::string strategy;
  std::string tier;
  std::string tier_reason;
  std::vector<route_candidate_record> candidates;
  std::vector<std::string> excluded; ///< endpoint:model tried already
  int32_t chosen = -1;               ///< index into candidates; -1: none
  std::string reason;
  bool hedge = false;
  /// answered, a model_failure name, lost_hedge, canceled, or unavailable
  /// (no candidate could be chosen).
  std::string outcome;
  uint64_t latency_us = 0;
  uint64_t backoff_us = 0;
  double jitter = 0;
};

/// How a delegated child ended, journaled by the parent (an input).
struct delegation_result {
  std::string call_id;
  std::string child_run_id;
  run_status status = run_status::completed;
  std::string answer;
  std::string summary;
  std::string reason;
  kpis totals; ///< the child's own, with its descendants'
  uint32_t verification_attempts = 0;
  std::vector<artifact> artifacts;
};

/// The checks after `complete`, run (an input).
struct verification {
  uint32_t attempt = 0; ///< from 1
  bool passed = false;
  std::vector<check_result> results;
};

struct phase_start {
  uint32_t phase = 0; ///< index into run_start.phases
  std::string name;
  std::string role;
  uint32_t attempt = 0; ///< from 1
};

/// gate_pass and gate_fail.
struct gate_outcome {
  uint32_t phase = 0;
  std::string name;
  uint32_t attempt = 0;
  std::string report;
  bool skipped = false;
  std::string review_skipped_reason;
};
struct gate_pass : gate_outcome {};
struct gate_fail : gate_outcome {};

/// The variant order is the event kind; keep it in sync with `event_kind`.
using event_body =
  std::variant<run_start, turn_start, model_request, model_reply, tool_call,
               policy_decision, tool_result, turn_end, recovery, completion,
               error_event, checkpoint, parse_failure, approval_request,
               approval_decision, retry, route_attempt, delegation,
               delegation_result, verification, phase_start, gate_pass, gate_fail,
               artifact>;

enum class event_kind : uint8_t {
  run_start,
  turn_start,
  model_request,
  model_reply,
  tool_call,
  policy_decision,
  tool_result,
  turn_end,
  recovery,
  completion,
  error,
  checkpoint,
  parse_failure,
  approval_request,
  approval_decision,
  retry,
  route_attempt,
  delegation,
  delegation_result,
  verification,
  phase_start,
  gate_pass,
  gate_fail,
  artifact,
};

inline constexpr size_t event_kind_count = std::variant_size_v<event_body>;

/// The snake_case kind name used in exports, the CLI and the `kind` column.
[[nodiscard]] std::string_view to_string(event_kind x);
[[nodiscard]] bool from_string(std::string_view name, event_kind& out);

/// One journal event: the envelope plus one body.
struct event {
  std::string run_id;
  uint32_t seq = 0; ///< per-run, contiguous from 1; assigned by the journal
  std::string parent_run_id;
  std::string root_run_id;
  int64_t ts_us = 0; ///< microseconds since the Unix epoch
  event_body body;

  [[nodiscard]] event_kind kind() const noexcept {
    return static_cast<event_kind>(body.index());
  }
};

} // namespace troupe
