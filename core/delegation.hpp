#pragma once
// Delegation, decided purely: which delegate calls a run may make, what budget
// each child gets, the child's run_start, and what the parent is shown when
// the child ends. The run decides with these (core/run_decisions.cpp) and
// replay calls the same functions.
//
// The tree's contract:
// - Who may delegate to whom is the scenario's graph (`[agents.X] delegates`),
//   journaled in run_start; the policy then decides the `delegate` call like
//   any other (docs/policy.md).
// - Budgets split down the tree. A child gets what its parent has left after
//   its own spend, its finished children's spend and what its running
//   children hold, shared evenly by the delegate calls of the reply not yet
//   started (or less, if the call asks for less). One turn and one tool call
//   stay with the parent (its `complete`), and each child is charged one turn
//   and one tool call beyond its limits: its recovery turn and its
//   `complete`. So a subtree's turns and tool calls never pass its root's
//   limits by more than that root's own recovery turn; tokens and cost are
//   checked between turns, so one reply can overshoot them, as in any run.
// - Depth, children per run and runs per tree are allowances in the limits,
//   split the same way: a child has one level less, the same children per
//   run, and its share of the subtree's runs.
// - Child ids are `<parent id>.<n>`, n the parent's nth delegation: the same
//   after a crash, so a delegate call run again finds the same child.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/run_result.hpp"
#include "core/run_state.hpp"
#include "core/tool.hpp"
#include "schemas/event.hpp"

namespace troupe {

struct scenario;

/// The name of the tool that delegates.
inline constexpr std::string_view delegate_tool = "delegate";

/// `delegate {agent, task, budget?, output_schema?}`. Idempotent: a call run
/// again after a crash finds its child by id. Its handler never runs: the run
/// sends delegate calls to its supervisor, not to the tool pool.
[[nodiscard]] tool_definition make_delegate_tool();

/// Why the run may not make this delegate call now (empty: it may): the
/// agent is not in its graph, the depth, children or runs-per-tree allowance
/// is used up, no budget is left to share, or `output_schema` is not a
/// schema troupe enforces. `args` are the envelope's normalized arguments.
[[nodiscard]] std::string delegation_refusal(const run_state& st, const nlohmann::json& args,
                                             int64_t now_us);

/// The child of delegate call `call` (normalized arguments): its id, agent,
/// task and budget. Nothing when the budget ran out since the call was vetted
/// (`why` says which).
[[nodiscard]] std::optional<delegation> plan_delegation(const run_state& st,
                                                        const tool_call_ref& call,
                                                        int64_t now_us, std::string* why);

/// The child's run_start: its agent's model, instructions and tools from the
/// scenario, the delegation's task and budget, the parent's tenant,
/// workspace, scenario key and external tools. An agent the scenario no
/// longer has is `invalid_scenario`.
[[nodiscard]] caf::expected<run_start> child_start(const scenario& sc, const run_start& parent,
                                                   const delegation& d);

/// The parent's journal record of how child `d` ended.
[[nodiscard]] delegation_result delegation_result_of(const delegation& d, const run_result& r);

/// What the parent's model is shown: the child's answer when it completed
/// (and matches `output_schema`, if any), else a failed result naming the
/// child, how it ended and its summary.
[[nodiscard]] tool_result delegation_tool_result(const delegation& d,
                                                 const delegation_result& r);

/// A subtree's spend as its parent counts it: the child's own KPIs with its
/// descendants'.
[[nodiscard]] uint32_t subtree_turns(const kpis& k);
[[nodiscard]] uint32_t subtree_tool_calls(const kpis& k);
[[nodiscard]] uint64_t subtree_tokens(const kpis& k);
[[nodiscard]] uint64_t subtree_cost(const kpis& k);

} // namespace troupe
