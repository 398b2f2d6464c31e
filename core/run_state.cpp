#include "core/run_state.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/delegation.hpp"
#include "core/team.hpp"
#include "core/verification.hpp"
#include "core/event_summary.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/saturating_time.hpp"
#include "core/workspace.hpp"

namespace troupe {

namespace {


call_slot* find_slot(run_state& st, const std::string& call_id) {
  for (auto& s : st.calls)
    if (s.call.call_id == call_id)
      return &s;
  return nullptr;
}

void mark_done(run_state& st, const std::string& call_id) {
  if (auto* s = find_slot(st, call_id))
    s->status = call_slot::state::done;
}

// `complete`'s arguments were validated before its tool_call was journaled;
// a malformed one cannot reach here, but stay total anyway.
std::pair<std::string, std::string> complete_args(const std::string& json) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object())
    return {"failure", ""};
  auto get = [&](const char* key) {
    auto i = doc.find(key);
    return i != doc.end() && i->is_string() ? i->get<std::string>()
                                            : std::string{};
  };
  return {get("status"), get("answer")};
}

// The control state: everything next_step reads. Checkpoint snapshots carry
// it (core/run_snapshot.hpp).
struct control_folder {
  run_state& st;
  const event& ev;

  void operator()(const run_start& x) {
    st.run_id = ev.run_id;
    st.agent = x.agent;
    st.tenant = x.tenant;
    st.workspace = x.workspace;
    st.model = x.model;
    st.tools = x.tools;
    st.limits = x.limits;
    st.started_us = ev.ts_us;
    st.phase = run_phase::between_turns;
    st.depth = x.depth;
    st.delegates = x.delegates;
    st.wait_for_children = x.children_on_end == "wait";
    st.verification = x.verification;
    st.max_fix_attempts = std::max<uint32_t>(x.max_fix_attempts, 1);
    st.artifact = x.artifact;
    st.role = x.role;
    st.role_phase = x.phase;
    st.team = x.team;
    st.phases = x.phases;
    st.checkpoint_per_turn = x.checkpoints == per_turn_checkpoints;
    st.progress.assign(x.phases.size(), phase_progress{});
  }
  void operator()(const verification& x) {
    st.verification_attempts = x.attempt;
    st.last_verification = x;
    if (x.passed) {
      st.verified = true;
    } else if (x.attempt < st.max_fix_attempts) {
      // A fix turn follows; the agent must call `complete` again.
      st.fix_due = true;
      st.complete_call.reset();
    }
  }
  void operator()(const artifact& x) { st.artifacts.push_back(x); }
  void operator()(const phase_start& x) { fold_phase_start(st, x); }
  void operator()(const gate_pass& x) { fold_gate(st, x, true); }
  void operator()(const gate_fail& x) { fold_gate(st, x, false); }
  void operator()(const delegation& x) {
    st.children.push_back(x);
    ++st.children_started;
    if (auto* s = find_slot(st, x.call_id))
      s->child_running = true;
  }
  void operator()(const delegation_result& x) {
    auto& c = st.children;
    if (auto* s = find_slot(st, x.call_id)) {
      s->child_running = false;
      auto d = std::find_if(c.begin(), c.end(), [&](auto& d) { return d.call_id == x.call_id; });
      if (d != c.end())
        s->child_answer = delegation_tool_result(*d, x);
    }
    fold_team_result(st, x);
    c.erase(std::remove_if(c.begin(), c.end(),
                           [&](auto& d) { return d.call_id == x.call_id; }),
            c.end());
    auto& k = st.totals;
    k.descendant_runs += 1 + x.totals.descendant_runs;
    k.descendant_turns += subtree_turns(x.totals);
    k.descendant_tool_calls += subtree_tool_calls(x.totals);
    k.descendant_tokens += subtree_tokens(x.totals);
    k.descendant_cost_micro_usd += subtree_cost(x.totals);
  }
  void operator()(const turn_start& x) {
    st.turn = x.turn;
    st.mode = x.mode;
    st.phase = run_phase::turn_started;
    st.calls.clear();
    st.reply_had_calls = false;
    st.reply_failed = false;
    st.turn_had_parse_failure = false;
    st.fix_due = false;
    ++st.totals.turns;
  }
  void operator()(const model_request&) {
    st.phase = run_phase::awaiting_reply;
    ++st.totals.model_calls;
    if (st.consecutive_provider_failures > 0)
      ++st.totals.retries;
  }
  void operator()(const model_reply& x) {
    st.totals.input_tokens += x.tokens.input;
    st.totals.output_tokens += x.tokens.output;
    st.totals.cost_micro_usd += x.cost_micro_usd;
    st.phase = run_phase::handling_calls;
    if (!x.failure.empty()) {
      st.reply_failed = true;
      ++st.totals.model_errors;
      ++st.consecutive_errors;
      ++st.consecutive_provider_failures;
      return;
    }
    st.consecutive_provider_failures = 0;
    st.reply_had_calls = !x.tool_calls.empty();
    for (auto& c : x.tool_calls)
      st.calls.push_back(call_slot{c});
  }
  void operator()(const tool_call& x) {
    if (auto* s = find_slot(st, x.call_id)) {
      s->status = call_slot::state::in_flight;
      s->call.args_json = x.args_json;
      s->args_normalized = true;
    }
    ++st.totals.tool_calls;
    if (x.name == complete_tool)
      st.complete_call = complete_args(x.args_json);
  }
  void operator()(const policy_decision& x) {
    auto* slot = find_slot(st, x.call_id);
    if (slot == nullptr)
      return;
    slot->grants = x.grants;
    slot->rule = x.rule;
    if (x.decision == decision_kind::allow) {
      slot->status = call_slot::state::approved;
    } else if (x.decision == decision_kind::ask) {
      slot->status = call_slot::state::awaiting_approval;
    } else {
      slot->status = call_slot::state::done;
      ++st.totals.denials;
    }
  }
  void operator()(const approval_request& x) {
    st.pending_approvals.push_back(x);
    if (auto* s = find_slot(st, x.call_id)) {
      s->call.args_json = x.args_json;
      s->args_normalized = true;
    }
  }
  void operator()(const retry&) { ++st.totals.retries; }
  // A failed attempt the gateway answered with another one is a retry; the
  // request's model_reply (which follows) is what the run acts on.
  void operator()(const route_attempt& x) {
    if (x.attempt > 1 && !x.hedge)
      ++st.totals.retries;
  }
  void operator()(const approval_decision& x) {
    fold_team_approval(st, x);
    auto& pending = st.pending_approvals;
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [&](auto& a) { return a.call_id == x.call_id; }),
                  pending.end());
    auto* slot = find_slot(st, x.call_id);
    if (slot == nullptr)
      return;
    if (x.approved) {
      slot->status = call_slot::state::approved;
      return;
    }
    slot->status = call_slot::state::done;
    ++st.totals.denials;
  }
  void operator()(const tool_result& x) {
    mark_done(st, x.call_id);
    // A checkpoint only shortens reading the run back, so one is written
    // while the reply still has calls to handle; once they are all done the
    // turn ends, and its turn_end's checkpoint covers this result too (runs
    // begun before run_start said so checkpoint after every result). A
    // fan-out checkpoints once its last child answered, not once per child.
    bool more_calls = std::any_of(st.calls.begin(), st.calls.end(), [](auto& s) {
      return s.status != call_slot::state::done;
    });
    st.checkpoint_due = (more_calls || !st.checkpoint_per_turn)
                        && (x.name != delegate_tool || st.children.empty());
    if (x.ok) {
      st.consecutive_errors = 0;
    } else {
      ++st.totals.tool_errors;
      ++st.consecutive_errors;
    }
  }
  void operator()(const turn_end&) {
    st.phase = run_phase::between_turns;
    st.checkpoint_due = true;
    if (st.fix_due)
      st.next_mode = turn_mode::fix;
    else if (st.reply_failed)
      st.next_mode = turn_mode::normal;
    else if (st.turn_had_parse_failure)
      st.next_mode = turn_mode::repair;
    else if (!st.reply_had_calls)
      st.next_mode = turn_mode::reminder;
    else
      st.next_mode = turn_mode::normal;
  }
  void operator()(const recovery& x) { st.recovery_reason = x.reason; }
  void operator()(const completion& x) {
    st.outcome = x;
    st.phase = run_phase::finished;
  }
  void operator()(const error_event& x) {
    if (x.code == error_kind::canceled) {
      st.cancel_requested = true;
      return;
    }
    if (x.code == error_kind::out_of_scope) {
      st.out_of_scope = x.message;
      mark_done(st, x.call_id);
      return;
    }
    if (!x.call_id.empty())
      mark_done(st, x.call_id);
  }
  void operator()(const checkpoint&) { st.checkpoint_due = false; }
  void operator()(const parse_failure& x) {
    mark_done(st, x.call_id);
    ++st.totals.parse_failures;
    ++st.consecutive_errors;
    st.turn_had_parse_failure = true;
  }
};


using limit = std::pair<std::string, std::string>;

std::string usd(uint64_t micro) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", static_cast<double>(micro) / 1e6);
  return buf;
}

// Limits bound a run's whole subtree: its finished descendants' spend counts
// (children still running hold their budgets, which handle_calls counts).
std::optional<limit> limit_hit(const run_state& st) {
  auto& l = st.limits;
  auto& k = st.totals;
  auto n = [](uint64_t x) { return std::to_string(x); };
  auto turns = subtree_turns(k);
  auto tokens = subtree_tokens(k);
  auto cost = subtree_cost(k);
  auto tool_calls = subtree_tool_calls(k);
  if (l.max_turns != 0 && turns >= l.max_turns)
    return limit{"max_turns", n(turns) + " of " + n(l.max_turns) + " turns used"};
  if (l.max_tokens != 0 && tokens >= l.max_tokens)
    return limit{"max_tokens", n(tokens) + " of " + n(l.max_tokens) + " tokens used"};
  if (l.deadline_ms != 0
      && elapsed_us(st.started_us, st.last_ts_us) >= ms_to_us(l.deadline_ms))
    return limit{"deadline", "the " + n(l.deadline_ms) + " ms deadline passed"};
  if (l.max_cost_micro_usd != 0 && cost >= l.max_cost_micro_usd)
    return limit{"max_cost", usd(cost) + " of " + usd(l.max_cost_micro_usd) + " USD spent"};
  if (l.max_tool_calls != 0 && tool_calls >= l.max_tool_calls)
    return limit{"max_tool_calls",
                 n(tool_calls) + " of " + n(l.max_tool_calls) + " tool calls used"};
  // For the two error tolerances 0 is a strict mode: the first error counts.
  if (st.consecutive_errors > 0
      && st.consecutive_errors >= l.max_consecutive_errors) {
    if (st.consecutive_provider_failures >= l.max_consecutive_errors)
      return limit{"provider_failed", n(st.consecutive_provider_failures)
                                        + " model requests failed in a row"};
    return limit{"max_consecutive_errors",
                 n(st.consecutive_errors) + " errors in a row"};
  }
  if (k.parse_failures > 0 && k.parse_failures >= l.max_parse_failures)
    return limit{"max_parse_failures", n(k.parse_failures)
                                         + " tool calls with malformed arguments"};
  return std::nullopt;
}

completion make_outcome(const run_state& st, run_status status,
                        std::string answer, std::string summary) {
  completion c;
  c.status = status;
  c.answer = std::move(answer);
  c.summary = std::move(summary);
  c.reason = st.recovery_reason;
  c.totals = st.totals;
  return c;
}

// Every run of the task's checks so far, one report each.
std::string verification_summary(const run_state& st) {
  std::string out;
  for (auto& r : st.chat.verification_log)
    out += (out.empty() ? "" : "\n") + r;
  return out;
}

bool offered(const run_state& st, const std::string& name) {
  if (st.in_recovery() && st.mode == turn_mode::recovery)
    return name == complete_tool;
  return std::find(st.tools.begin(), st.tools.end(), name) != st.tools.end();
}

// Tool calls used, with the finished subtree's and what running children
// hold (each child's tool calls plus its `complete`).
uint64_t tool_calls_held(const run_state& st) {
  uint64_t n = subtree_tool_calls(st.totals);
  for (auto& c : st.children)
    n += uint64_t{c.limits.max_tool_calls} + 1;
  return n;
}

run_step handle_calls(const run_state& st) {
  for (size_t i = 0; i < st.calls.size(); ++i) {
    auto& slot = st.calls[i];
    if (slot.status == call_slot::state::in_flight) {
      // A started child runs beside the calls after it.
      if (slot.child_running)
        continue;
      return execute_call_step{i};
    }
    // Canceled: what is in flight ends, nothing more starts.
    if (st.cancel_requested)
      continue;
    if (slot.status == call_slot::state::awaiting_approval) {
      bool requested = std::any_of(
        st.pending_approvals.begin(), st.pending_approvals.end(),
        [&](auto& a) { return a.call_id == slot.call.call_id; });
      return requested ? run_step{wait_step{}} : run_step{request_approval_step{i}};
    }
    if (slot.status == call_slot::state::approved)
      return vet_call_step{i, {}, true};
    if (slot.status == call_slot::state::done)
      continue;
    if (st.complete_call)
      break; // `complete` ended the reply; later calls are not run
    auto& name = slot.call.name;
    if (!offered(st, name)) {
      auto why = st.mode == turn_mode::recovery
                   ? "only `complete` is available in the recovery turn"
                   : "tool '" + name + "' is not offered to agent '" + st.agent + "'";
      return vet_call_step{i, why};
    }
    if (name != complete_tool && st.limits.max_tool_calls != 0
        && tool_calls_held(st) >= st.limits.max_tool_calls)
      return vet_call_step{i, "the tool-call limit ("
                                + std::to_string(st.limits.max_tool_calls)
                                + ") is reached; call not run"};
    return vet_call_step{i, {}};
  }
  // Children still running: a completion waits for them when the scenario
  // says so (otherwise it ends the run, which cancels them); a turn always
  // waits, so that their results are in the conversation.
  if (!st.children.empty() && (!st.complete_call || st.wait_for_children))
    return wait_step{};
  if (st.complete_call) {
    auto& [status, answer] = *st.complete_call;
    if (st.in_recovery())
      return finish_step{make_outcome(st, run_status::limit_reached, "", answer)};
    // The task's checks, unless the agent itself reports a failure.
    if (!st.verification.empty() && status != "failure") {
      if (!st.verified) {
        if (st.verification_attempts < st.max_fix_attempts)
          return verify_step{st.verification_attempts + 1};
        auto c = make_outcome(st, run_status::limit_reached, answer,
                              "the checks still failed after "
                                + std::to_string(st.verification_attempts)
                                + " attempts:\n" + verification_summary(st));
        c.reason = "verification_failed";
        return finish_step{c};
      }
      if (!st.artifact.empty() && st.artifacts.empty() && st.last_verification
          && artifact_of(*st.last_verification, st.artifact, st.role, st.role_phase))
        return record_artifact_step{};
      return finish_step{make_outcome(st, status_of_complete(status, false), answer,
                                      answer + "\n\nchecks:\n" + verification_summary(st))};
    }
    return finish_step{make_outcome(st, status_of_complete(status, false),
                                    answer, answer)};
  }
  return end_turn_step{st.turn};
}

} // namespace

void apply(run_state& st, const event& ev) {
  std::visit(control_folder{st, ev}, ev.body);
  apply(st.chat, ev);
  st.last_ts_us = std::max(st.last_ts_us, ev.ts_us);
  if (st.started_us != 0)
    st.totals.wall_ms = static_cast<uint64_t>(elapsed_us(st.started_us, st.last_ts_us)) / 1000;
}


bool child_running(const run_state& st, const std::string& call_id) {
  return std::any_of(st.children.begin(), st.children.end(),
                     [&](auto& d) { return d.call_id == call_id; });
}

run_status status_of_complete(std::string_view status, bool in_recovery) {
  if (in_recovery)
    return run_status::limit_reached;
  return status == "failure" ? run_status::failed : run_status::completed;
}

run_result result_of(const run_state& st) {
  run_result r;
  r.run_id = st.run_id;
  if (st.outcome) {
    r.status = st.outcome->status;
    r.answer = st.outcome->answer;
    r.summary = st.outcome->summary;
    r.reason = st.outcome->reason;
  }
  r.totals = st.totals;
  r.verification_attempts = st.verification_attempts;
  r.artifacts = st.artifacts;
  return r;
}

run_step next_step(const run_state& st) {
  if (st.checkpoint_due)
    return checkpoint_step{};
  if (!st.out_of_scope.empty() && st.phase != run_phase::finished) {
    auto c = make_outcome(st, run_status::failed, "",
                          "framework_fix_needed: " + st.out_of_scope);
    c.reason = "out_of_scope";
    return finish_step{c};
  }
  switch (st.phase) {
    case run_phase::created:
    case run_phase::finished:
    case run_phase::awaiting_reply:
      return wait_step{};
    case run_phase::turn_started: {
      std::vector<std::string> tools;
      if (st.mode == turn_mode::recovery)
        tools.emplace_back(complete_tool);
      else
        tools = st.tools;
      return ask_model_step{st.turn, std::move(tools)};
    }
    case run_phase::handling_calls:
      if (st.cancel_requested
          && std::none_of(st.calls.begin(), st.calls.end(), [](auto& s) {
               return s.status == call_slot::state::in_flight;
             }))
        return finish_step{make_outcome(st, run_status::canceled, "",
                                        "canceled during turn "
                                          + std::to_string(st.turn))};
      return handle_calls(st);
    case run_phase::between_turns:
      break;
  }
  if (st.cancel_requested)
    return finish_step{make_outcome(st, run_status::canceled, "",
                                    "canceled after turn " + std::to_string(st.turn))};
  if (st.in_recovery()) {
    if (st.mode == turn_mode::recovery) // the recovery turn ended without `complete`
      return finish_step{make_outcome(st, run_status::limit_reached, "",
                                      runtime_summary(st))};
    return start_turn_step{st.turn + 1, turn_mode::recovery};
  }
  if (auto hit = limit_hit(st))
    return recover_step{hit->first, hit->second};
  return start_turn_step{st.turn + 1, st.next_mode};
}

std::string scope_violation(const std::string& tool_name, bool tool_is_pure,
                            const nlohmann::json& args, std::string_view workspace_root) {
  if (tool_is_pure)
    return {};
  if (!args.is_object())
    return {};
  if (mcp_server_of(tool_name)) {
    auto outside = mcp_path_outside(args, workspace_root);
    if (outside.empty())
      return {};
    return "call to " + tool_name + " would reach '" + outside
           + "', outside the run's workspace; the task needs a change outside the run's scope";
  }
  // `path` is where file tools write; `cwd` is where process tools work.
  for (const char* key : {"path", "cwd"}) {
    auto i = args.find(key);
    if (i == args.end() || !i->is_string() || !leaves_workspace(i->get<std::string>()))
      continue;
    return "call to " + tool_name + " would " + (key[0] == 'p' ? "write '" : "work in '")
           + i->get<std::string>()
           + "', outside the run's workspace; the task needs a change outside the "
             "run's scope";
  }
  return {};
}

std::string runtime_summary(const run_state& st) {
  auto& k = st.totals;
  std::string s = "Stopped by " + st.recovery_reason + " after "
                  + std::to_string(k.turns) + " turns and "
                  + std::to_string(k.tool_calls) + " tool calls ("
                  + std::to_string(k.tool_errors) + " failed, "
                  + std::to_string(k.parse_failures)
                  + " rejected). The recovery turn did not call `complete`, "
                    "so troupe wrote this summary from the journal.";
  if (!st.chat.verification_log.empty())
    s += " Checks so far: " + one_line(verification_summary(st), 600) + ".";
  if (!st.chat.recent_results.empty()) {
    s += " Recent tool results:";
    for (auto& r : st.chat.recent_results)
      s += " [" + r + "]";
  }
  return s;
}

} // namespace troupe
