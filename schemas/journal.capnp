@0xc6285fb630e868a1;
# The journal event: one struct is the message between actors, the bytes on the
# wire and the journal row (design principle 1). Evolution rules live in
# docs/journal-format.md: add fields and union members at the end, never
# renumber, never change a field's type.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("troupe::schema");
using Json = import "/capnp/compat/json.capnp";

struct Usage {
  input  @0 :UInt64;
  output @1 :UInt64;
}

struct ToolCallRef {
  callId   @0 :Text $Json.name("call_id");
  name     @1 :Text;
  argsJson @2 :Text $Json.name("args_json");
}

struct Limits {
  maxTurns             @0 :UInt32 $Json.name("max_turns");
  maxToolCalls         @1 :UInt32 $Json.name("max_tool_calls");
  maxTokens            @2 :UInt64 $Json.name("max_tokens");
  deadlineMs           @3 :UInt64 $Json.name("deadline_ms");
  maxConsecutiveErrors @4 :UInt32 $Json.name("max_consecutive_errors");
  maxParseFailures     @5 :UInt32 $Json.name("max_parse_failures");
  maxCostMicroUsd      @6 :UInt64 $Json.name("max_cost_micro_usd");   # 0: no cost limit
  # Delegation allowances (docs/journal-format.md, "Delegation"); 0 in
  # journals written before delegation: such a run delegates nothing.
  maxDepth             @7 :UInt32 $Json.name("max_depth");         # levels below this run
  maxChildren          @8 :UInt32 $Json.name("max_children");      # children of this run
  maxDescendants       @9 :UInt32 $Json.name("max_descendants");   # runs below this run
}

struct Kpis {
  turns         @0 :UInt32;
  toolCalls     @1 :UInt32 $Json.name("tool_calls");
  modelCalls    @2 :UInt32 $Json.name("model_calls");
  parseFailures @3 :UInt32 $Json.name("parse_failures");
  retries       @4 :UInt32;
  inputTokens   @5 :UInt64 $Json.name("input_tokens");
  outputTokens  @6 :UInt64 $Json.name("output_tokens");
  wallMs        @7 :UInt64 $Json.name("wall_ms");
  toolErrors    @8 :UInt32 $Json.name("tool_errors");
  modelErrors   @9 :UInt32 $Json.name("model_errors");
  denials       @10 :UInt32;
  costMicroUsd  @11 :UInt64 $Json.name("cost_micro_usd");
  # What the run's finished descendants spent, from their results.
  descendantRuns         @12 :UInt32 $Json.name("descendant_runs");
  descendantTurns        @13 :UInt32 $Json.name("descendant_turns");
  descendantToolCalls    @14 :UInt32 $Json.name("descendant_tool_calls");
  descendantTokens       @15 :UInt64 $Json.name("descendant_tokens");
  descendantCostMicroUsd @16 :UInt64 $Json.name("descendant_cost_micro_usd");
}

enum TurnMode {
  normal   @0;
  reminder @1;   # the last reply had neither tool calls nor `complete`
  repair   @2;   # the last reply had malformed tool-call arguments
  recovery @3;   # a limit was hit: only `complete` is offered
  fix      @4;   # the checks after `complete` failed: their report is shown
}

enum RunStatus {
  running      @0;
  completed    @1;
  limitReached @2 $Json.name("limit_reached");
  failed       @3;
  canceled     @4;
}

struct RunStart {
  agent        @0 :Text;
  tenant       @1 :Text;
  task         @2 :Text;
  model        @3 :Text;
  instructions @4 :Text;
  tools        @5 :List(Text);
  limits       @6 :Limits;
  scenario     @7 :Text;
  workspace    @8 :Text;
  # Tools the build does not define (an MCP server's), as the run saw them
  # when it started: replay and resume rebuild its registry from these.
  externalTools @9 :List(ExternalTool) $Json.name("external_tools");
  depth         @10 :UInt32;                                # 0 for a top-level run
  delegates     @11 :List(Text);                            # agents it may delegate to
  childrenOnEnd @12 :Text $Json.name("children_on_end");    # cancel (or empty) | wait
  parentCallId  @13 :Text $Json.name("parent_call_id");     # the parent's delegate call
  # Self-verification: checks run after `complete`; failures are fix turns.
  verification   @14 :List(Check);
  maxFixAttempts @15 :UInt32 $Json.name("max_fix_attempts");
  artifact       @16 :Text;          # the file this run must produce (a role's)
  role           @17 :Text;          # a team's role run: its role and phase
  phase          @18 :Text;
  team           @19 :Text;          # a team run: the team and its phases
  phases         @20 :List(Phase);
  # When the run checkpoints after a tool result: "per_turn" (only while
  # calls of the reply remain; the turn end's checkpoint covers the rest),
  # or unset (runs begun before it existed: after every result). Replay
  # and resume follow the run's own rule.
  checkpoints    @21 :Text;
}

# A gate or verification step.
struct Check {
  name     @0 :Text;
  kind     @1 :Text;          # file_exists, command_succeeds, test_passes, json_matches, approved_by
  path     @2 :Text;          # file_exists, json_matches: workspace-relative
  argv     @3 :List(Text);    # command_succeeds, test_passes
  schema   @4 :Text;          # json_matches: JSON Schema text
  approver @5 :Text;          # approved_by: a role, or "person"
}

struct CheckResult {
  name   @0 :Text;
  kind   @1 :Text;
  ok     @2 :Bool;
  output @3 :Text;            # an excerpt: why it failed, or what it saw
  sha256 @4 :Text;            # file_exists: the file's content hash
  bytes  @5 :UInt64;
  lines  @6 :UInt64;
}

# One phase of a team (journaled in the team run's run_start).
struct Phase {
  name        @0 :Text;
  role        @1 :Text;
  task        @2 :Text;
  gate        @3 :List(Check);   # checked in the role's run (its fix turns)
  approver    @4 :Text;          # approved_by: a role, or "person"; empty: none
  maxAttempts @5 :UInt32 $Json.name("max_attempts");
  skipIf      @6 :SkipRule $Json.name("skip_if");   # unset: never skipped
}

# When a phase (a review) may be skipped: the phase before passed on its
# first attempt and changed at most so many files and lines.
struct SkipRule {
  firstTry @0 :Bool $Json.name("first_try");
  maxFiles @1 :UInt32 $Json.name("max_files");
  maxLines @2 :UInt64 $Json.name("max_lines");
}

struct Verification {
  attempt @0 :UInt32;          # from 1
  passed  @1 :Bool;
  results @2 :List(CheckResult);
}

struct PhaseStart {
  phase   @0 :UInt32;           # index into run_start.phases
  name    @1 :Text;
  role    @2 :Text;
  attempt @3 :UInt32;           # from 1
}

struct GateOutcome {
  phase               @0 :UInt32;
  name                @1 :Text;
  attempt             @2 :UInt32;
  report              @3 :Text;
  skipped             @4 :Bool;
  reviewSkippedReason @5 :Text $Json.name("review_skipped_reason");
}

struct Artifact {
  path   @0 :Text;
  sha256 @1 :Text;
  bytes  @2 :UInt64;
  lines  @3 :UInt64;
  role   @4 :Text;
  phase  @5 :Text;
}

# A delegate call's child, journaled by the parent before the child starts.
struct Delegation {
  callId       @0 :Text $Json.name("call_id");
  childRunId   @1 :Text $Json.name("child_run_id");
  agent        @2 :Text;
  task         @3 :Text;
  limits       @4 :Limits;    # the child's budget, split from the parent's
  depth        @5 :UInt32;    # the child's
  outputSchema @6 :Text $Json.name("output_schema");   # JSON Schema of the answer; empty: any
  checks         @7 :List(Check);   # the child's verification (a phase's gate)
  maxFixAttempts @8 :UInt32 $Json.name("max_fix_attempts");
  role           @9 :Text;
  phase          @10 :Text;
  artifact       @11 :Text;
}

# How a delegated child ended, journaled by the parent (an input).
struct DelegationResult {
  callId     @0 :Text $Json.name("call_id");
  childRunId @1 :Text $Json.name("child_run_id");
  status     @2 :RunStatus;
  answer     @3 :Text;
  summary    @4 :Text;
  reason     @5 :Text;
  kpis       @6 :Kpis;        # the child's own, with its descendants'
  verificationAttempts @7 :UInt32 $Json.name("verification_attempts");
  artifacts            @8 :List(Artifact);
}

struct ExternalTool {
  name           @0 :Text;
  description    @1 :Text;
  parametersJson @2 :Text $Json.name("parameters_json");
  effect         @3 :Text;  # pure, idempotent or unsafe
}

struct TurnStart {
  turn @0 :UInt32;
  mode @1 :TurnMode;
}

struct ModelRequest {
  turn     @0 :UInt32;
  route    @1 :Text;
  tools    @2 :List(Text);
  messages @3 :UInt32;
}

struct ModelReply {
  turn      @0 :UInt32;
  text      @1 :Text;
  toolCalls @2 :List(ToolCallRef) $Json.name("tool_calls");
  usage     @3 :Usage;
  failure   @4 :Text;   # empty on success; else a model_failure name (docs/journal-format.md)
  latencyUs @5 :UInt64 $Json.name("latency_us");
  # Who answered (the gateway's choice) and what it cost. Empty or 0 for
  # scripted replies and in journals of earlier builds.
  endpoint      @6  :Text;
  model         @7  :Text;
  firstTokenUs  @8  :UInt64 $Json.name("first_token_us");
  costMicroUsd  @9  :UInt64 $Json.name("cost_micro_usd");
  finishReason  @10 :Text   $Json.name("finish_reason");
  failureDetail @11 :Text   $Json.name("failure_detail");   # keys redacted
}

# One candidate of a route as the gateway saw it when it chose.
struct RouteCandidate {
  endpoint    @0  :Text;
  model       @1  :Text;
  breaker     @2  :Text;      # closed, open, half_open
  probing     @3  :Bool;      # half_open: its one probe is out
  openUntilUs @4  :Int64 $Json.name("open_until_us");   # open: when the cool-down ends
  score       @5  :Float64;   # health in [0, 1]
  latencyMs   @6  :Float64 $Json.name("latency_ms");    # EWMA
  errorRate   @7  :Float64 $Json.name("error_rate");    # EWMA
  inputPrice  @8  :UInt64 $Json.name("input_micro_usd_per_mtok");
  outputPrice @9  :UInt64 $Json.name("output_micro_usd_per_mtok");
  quality     @10 :Float64;
  full        @11 :Bool;      # its endpoint's concurrency was saturated
}

# One attempt at answering a model request, journaled before the request's
# model_reply: the candidates the gateway chose among, the choice, why, and
# how the attempt ended. Replay chooses again from `candidates` and compares.
struct RouteAttempt {
  turn       @0  :UInt32;
  attempt    @1  :UInt32;   # from 1
  route      @2  :Text;     # the model name the agent uses
  strategy   @3  :Text;
  tier       @4  :Text;     # strategy tiers: trivial, standard, complex
  tierReason @5  :Text $Json.name("tier_reason");
  candidates @6  :List(RouteCandidate);
  excluded   @7  :List(Text);   # endpoint:model already tried for this request
  chosen     @8  :Int32;        # index into candidates; -1: none could be chosen
  reason     @9  :Text;
  hedge      @10 :Bool;         # sent beside a slower attempt
  outcome    @11 :Text;         # answered, a model_failure name, lost_hedge, canceled, unavailable
  latencyUs  @12 :UInt64 $Json.name("latency_us");
  backoffUs  @13 :UInt64 $Json.name("backoff_us");   # waited before this attempt
  jitter     @14 :Float64;                           # the draw behind the backoff
}

struct ToolCall {
  callId   @0 :Text $Json.name("call_id");
  name     @1 :Text;
  argsJson @2 :Text $Json.name("args_json");
}

struct PolicyDecision {
  callId        @0 :Text $Json.name("call_id");
  decision      @1 :Text;
  rule          @2 :Text;
  policyVersion @3 :Text $Json.name("policy_version");
  reason        @4 :Text;
  # What the rule granted; the tool request is built from these. Absent in
  # journals of earlier builds: they read as nothing granted (fail closed).
  secrets           @5 :List(Text);
  network           @6 :Bool;
  unsandboxed       @7 :Bool;
  approvalTimeoutMs @8 :UInt64 $Json.name("approval_timeout_ms");
}

struct ToolResult {
  callId @0 :Text $Json.name("call_id");
  name   @1 :Text;
  ok     @2 :Bool;
  output @3 :Text;
}

struct TurnEnd {
  turn @0 :UInt32;
}

struct Recovery {
  reason @0 :Text;   # the limit: max_turns, max_tool_calls, max_tokens, deadline, ...
  detail @1 :Text;
}

struct Completion {
  status  @0 :RunStatus;
  answer  @1 :Text;
  summary @2 :Text;
  reason  @3 :Text;
  kpis    @4 :Kpis;
}

struct Error {
  code    @0 :Text;
  message @1 :Text;
  callId  @2 :Text $Json.name("call_id");
}

struct Checkpoint {
  turn     @0 :UInt32;
  kpis     @1 :Kpis;
  # Before snapshots were a struct: the control state in a hand-rolled binary
  # record. No longer written and no longer read (such a checkpoint has no
  # usable snapshot; readers fold from an earlier checkpoint or from the
  # start); kept so that old events decode and re-encode to their own bytes.
  state    @2 :Data $Json.base64;
  snapshot @3 :RunSnapshot;        # the run's control state; unset in old journals
}

# Where a run is within its turn loop (core/run_state.hpp, run_phase).
enum RunPhase {
  created       @0;
  betweenTurns  @1 $Json.name("between_turns");
  turnStarted   @2 $Json.name("turn_started");
  awaitingReply @3 $Json.name("awaiting_reply");
  handlingCalls @4 $Json.name("handling_calls");
  finished      @5;
}

# Where one tool call of the current reply is (call_slot::state).
enum CallStatus {
  pending          @0;
  approved         @1;
  awaitingApproval @2 $Json.name("awaiting_approval");
  inFlight         @3 $Json.name("in_flight");
  done             @4;
}

# `count` consecutive calls of the current reply in one status. Calls are
# handled in order, so a reply of any size is a few runs (done..., one in
# flight, pending...).
struct CallRun {
  status @0 :CallStatus;
  count  @1 :UInt32;
}

# What the run holds of call `index` of the current reply beyond the reply
# itself, once its policy decision is journaled and until it is done: the
# rule and what it granted (the tool request is built from them), and the
# arguments once an approval_request or the tool_call normalized them (unset:
# still the reply's).
struct DecidedCall {
  index             @0 :UInt32;
  rule              @1 :Text;
  secrets           @2 :List(Text);
  network           @3 :Bool;
  unsandboxed       @4 :Bool;
  approvalTimeoutMs @5 :UInt64 $Json.name("approval_timeout_ms");
  argsJson          @6 :Text $Json.name("args_json");
}

# The answer `complete` gave, once its call was journaled.
struct CompleteCall {
  status @0 :Text;
  answer @1 :Text;
}

# The control state of a run at a checkpoint: what a fold of the events up
# to it gives, without what other events hold. Left out: what run_start fixes
# (agent, tools, limits, start time), the turn and KPIs (fields of the
# checkpoint), the current reply's calls (its model_reply event: ids, names,
# the model's arguments), and the conversation and recent tool outcomes
# (folded from the events; `messages` says how long the conversation is here,
# so a reader that rebuilds it can tell that it got the same). A reader
# restores a run from run_start, the last model_reply before the checkpoint,
# the checkpoint and the conversation, then folds the events after it.
struct RunSnapshot {
  phase                       @0  :RunPhase;
  mode                        @1  :TurnMode;
  nextMode                    @2  :TurnMode $Json.name("next_mode");
  lastTsUs                    @3  :Int64 $Json.name("last_ts_us");   # the run's clock
  calls                       @4  :List(CallRun);
  decidedCalls                @5  :List(DecidedCall) $Json.name("decided_calls");
  replyHadCalls               @6  :Bool $Json.name("reply_had_calls");
  replyFailed                 @7  :Bool $Json.name("reply_failed");
  turnHadParseFailure         @8  :Bool $Json.name("turn_had_parse_failure");
  cancelRequested             @9  :Bool $Json.name("cancel_requested");
  consecutiveErrors           @10 :UInt32 $Json.name("consecutive_errors");
  consecutiveProviderFailures @11 :UInt32 $Json.name("consecutive_provider_failures");
  recoveryReason              @12 :Text $Json.name("recovery_reason");
  outOfScope                  @13 :Text $Json.name("out_of_scope");
  completeCall                @14 :CompleteCall $Json.name("complete_call");   # unset: none yet
  pendingApprovals            @15 :List(ApprovalRequest) $Json.name("pending_approvals");
  messages                    @16 :UInt32;   # length of the conversation
  children                    @17 :List(Delegation);   # delegations still running
  childrenStarted             @18 :UInt32 $Json.name("children_started");
  verificationAttempts        @19 :UInt32 $Json.name("verification_attempts");
  verified                    @20 :Bool;
}

struct ParseFailure {
  callId   @0 :Text $Json.name("call_id");
  name     @1 :Text;
  argsJson @2 :Text $Json.name("args_json");
  reason   @3 :Text;
}

struct ApprovalRequest {
  callId     @0 :Text $Json.name("call_id");
  tool       @1 :Text;
  argsJson   @2 :Text $Json.name("args_json");
  rule       @3 :Text;
  deadlineUs @4 :Int64 $Json.name("deadline_us");   # fail closed after this
}

struct ApprovalDecision {
  callId   @0 :Text $Json.name("call_id");
  approved @1 :Bool;
  by       @2 :Text;   # who decided, or "timeout"
  reason   @3 :Text;
}

struct Retry {
  callId  @0 :Text $Json.name("call_id");
  attempt @1 :UInt32;              # the attempt that failed, from 1
  delayUs @2 :UInt64 $Json.name("delay_us");
  jitter  @3 :Float64;             # the random draw in [0, 1) behind the delay
  reason  @4 :Text;
}

struct Event $Json.discriminator(name = "kind") {
  runId       @0 :Text $Json.name("run_id");
  seq         @1 :UInt32;
  parentRunId @2 :Text $Json.name("parent_run_id");
  rootRunId   @3 :Text $Json.name("root_run_id");
  tsUs        @4 :Int64 $Json.name("ts_us");   # microseconds since the Unix epoch

  union {
    runStart       @5  :RunStart       $Json.name("run_start");
    turnStart      @6  :TurnStart      $Json.name("turn_start");
    modelRequest   @7  :ModelRequest   $Json.name("model_request");
    modelReply     @8  :ModelReply     $Json.name("model_reply");
    toolCall       @9  :ToolCall       $Json.name("tool_call");
    policyDecision @10 :PolicyDecision $Json.name("policy_decision");
    toolResult     @11 :ToolResult     $Json.name("tool_result");
    turnEnd        @12 :TurnEnd        $Json.name("turn_end");
    recovery       @13 :Recovery;
    completion     @14 :Completion;
    error          @15 :Error;
    checkpoint     @16 :Checkpoint;
    parseFailure   @17 :ParseFailure   $Json.name("parse_failure");
    approvalRequest  @18 :ApprovalRequest  $Json.name("approval_request");
    approvalDecision @19 :ApprovalDecision $Json.name("approval_decision");
    retry            @20 :Retry;
    routeAttempt     @21 :RouteAttempt $Json.name("route_attempt");
    delegation       @22 :Delegation;
    delegationResult @23 :DelegationResult $Json.name("delegation_result");
    verification     @24 :Verification;
    phaseStart       @25 :PhaseStart  $Json.name("phase_start");
    gatePass         @26 :GateOutcome $Json.name("gate_pass");
    gateFail         @27 :GateOutcome $Json.name("gate_fail");
    artifact         @28 :Artifact;
  }
}
