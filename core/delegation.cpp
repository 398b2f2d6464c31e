#include "core/delegation.hpp"

#include <algorithm>

#include "core/json_schema.hpp"
#include "core/runtime_errc.hpp"
#include "core/saturating_time.hpp"
#include "core/scenario.hpp"
#include "core/verification.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

uint64_t sat_sub(uint64_t a, uint64_t b) {
  return a > b ? a - b : 0;
}

// What a run can still give its children, before sharing.
struct budget_left {
  uint64_t turns = 0;
  uint64_t tool_calls = 0;
  uint64_t tokens = 0;
  std::optional<uint64_t> cost; ///< none: the run has no cost limit
  uint64_t deadline_ms = 0;
  uint64_t runs = 0;            ///< runs the subtree may still add
};

budget_left left_of(const run_state& st, int64_t now_us) {
  auto& l = st.limits;
  auto& k = st.totals;
  uint64_t turns = subtree_turns(k), tool_calls = subtree_tool_calls(k);
  uint64_t tokens = subtree_tokens(k), cost = subtree_cost(k), runs = k.descendant_runs;
  // Running children hold their whole budget, plus their recovery turn and
  // their `complete`.
  for (auto& c : st.children) {
    turns += uint64_t{c.limits.max_turns} + 1;
    tool_calls += uint64_t{c.limits.max_tool_calls} + 1;
    tokens += c.limits.max_tokens;
    cost += c.limits.max_cost_micro_usd;
    runs += 1 + uint64_t{c.limits.max_descendants};
  }
  budget_left b;
  // One turn and one tool call stay with the run itself: its `complete`.
  b.turns = sat_sub(l.max_turns, turns + 1);
  b.tool_calls = sat_sub(l.max_tool_calls, tool_calls + 1);
  b.tokens = sat_sub(l.max_tokens, tokens);
  if (l.max_cost_micro_usd != 0)
    b.cost = sat_sub(l.max_cost_micro_usd, cost);
  auto spent_ms = static_cast<uint64_t>(elapsed_us(st.started_us, now_us) / 1000);
  b.deadline_ms = sat_sub(l.deadline_ms, spent_ms);
  b.runs = sat_sub(l.max_descendants, runs);
  return b;
}

// Delegate calls of the current reply that have no child yet (they share
// what is left evenly).
uint64_t unstarted_delegations(const run_state& st) {
  uint64_t n = 0;
  for (auto& slot : st.calls)
    if (slot.call.name == delegate_tool && slot.status != call_status::done
        && !slot.child_running)
      ++n;
  return std::max<uint64_t>(n, 1);
}

std::optional<uint64_t> requested(const json& args, const char* key) {
  auto b = args.find("budget");
  if (b == args.end() || !b->is_object())
    return std::nullopt;
  auto v = b->find(key);
  if (v == b->end() || !v->is_number_unsigned())
    return std::nullopt;
  return v->get<uint64_t>();
}

// A child's share of `left`: what the call asks for, at most `left`, or an
// even share of it; when the even share is too small to use, the smallest
// useful one while it lasts (first calls first). A child is charged
// `overhead` beyond its limit.
uint64_t share(uint64_t left, uint64_t ways, std::optional<uint64_t> asked,
               uint64_t overhead = 0) {
  uint64_t even = std::max(left / ways, std::min(left, overhead + 1));
  uint64_t grant = asked ? std::min(*asked + overhead, left) : even;
  return sat_sub(grant, overhead);
}

std::string str_arg(const json& args, const char* key) {
  auto i = args.find(key);
  return i != args.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

// The child's limits, or why none can be given.
std::optional<limits_record> split(const run_state& st, const json& args, int64_t now_us,
                                   std::string& why) {
  if (st.limits.max_depth == 0) {
    why = "the delegation depth limit is reached (run " + st.run_id + " is at depth "
          + std::to_string(st.depth) + ")";
    return std::nullopt;
  }
  auto left = left_of(st, now_us);
  auto ways = unstarted_delegations(st);
  limits_record c = st.limits;
  auto n = [](uint64_t x) { return std::to_string(x); };
  auto turns = share(left.turns, ways, requested(args, "max_turns"), 1);
  auto tool_calls = share(left.tool_calls, ways, requested(args, "max_tool_calls"), 1);
  auto tokens = share(left.tokens, ways, requested(args, "max_tokens"));
  auto runs = share(left.runs, ways, std::nullopt);
  if (turns < 1) {
    why = "no turns left to give a child (" + n(left.turns) + " left to share " + n(ways)
          + " ways; each child is also charged its recovery turn)";
    return std::nullopt;
  }
  if (tool_calls < 1) {
    why = "no tool calls left to give a child (" + n(left.tool_calls) + " left to share "
          + n(ways) + " ways; each child is also charged its `complete`)";
    return std::nullopt;
  }
  if (tokens < 1) {
    why = "no tokens left to give a child";
    return std::nullopt;
  }
  if (left.deadline_ms < 1) {
    why = "the run's deadline leaves no time for a child";
    return std::nullopt;
  }
  if (runs < 1) {
    why = "the runs-per-tree allowance is used up (" + n(left.runs) + " runs left to share "
          + n(ways) + " ways)";
    return std::nullopt;
  }
  c.max_turns = static_cast<uint32_t>(std::min<uint64_t>(turns, UINT32_MAX));
  c.max_tool_calls = static_cast<uint32_t>(std::min<uint64_t>(tool_calls, UINT32_MAX));
  c.max_tokens = tokens;
  auto deadline = requested(args, "deadline_ms");
  c.deadline_ms = deadline ? std::min(*deadline, left.deadline_ms) : left.deadline_ms;
  if (c.deadline_ms < 1) {
    why = "a deadline of 0 ms leaves the child no time";
    return std::nullopt;
  }
  if (left.cost) {
    auto cost = share(*left.cost, ways, requested(args, "max_cost_micro_usd"));
    if (cost < 1) {
      why = "no cost budget left to give a child";
      return std::nullopt;
    }
    c.max_cost_micro_usd = cost;
  } else {
    c.max_cost_micro_usd = requested(args, "max_cost_micro_usd").value_or(0);
  }
  c.max_depth = st.limits.max_depth - 1;
  c.max_descendants = static_cast<uint32_t>(std::min<uint64_t>(runs - 1, UINT32_MAX));
  return c;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}

} // namespace

uint32_t subtree_turns(const kpis& k) {
  return k.turns + k.descendant_turns;
}
uint32_t subtree_tool_calls(const kpis& k) {
  return k.tool_calls + k.descendant_tool_calls;
}
uint64_t subtree_tokens(const kpis& k) {
  return k.input_tokens + k.output_tokens + k.descendant_tokens;
}
uint64_t subtree_cost(const kpis& k) {
  return k.cost_micro_usd + k.descendant_cost_micro_usd;
}

tool_definition make_delegate_tool() {
  json budget_props;
  for (auto* key : {"max_turns", "max_tool_calls", "max_tokens", "deadline_ms",
                    "max_cost_micro_usd"})
    budget_props[key] = {{"type", "integer"}, {"minimum", 1}};
  return {std::string(delegate_tool),
          "Delegates a task to another agent, which works on it as a child run and "
          "answers with its final answer. Several delegate calls in one reply run at "
          "the same time. The child's budget is taken from yours.",
          json{{"type", "object"},
               {"properties",
                {{"agent", {{"type", "string"}, {"description", "The agent to delegate to."}}},
                 {"task", {{"type", "string"}, {"minLength", 1},
                           {"description", "What the agent should do."}}},
                 {"budget", {{"type", "object"},
                             {"properties", budget_props},
                             {"additionalProperties", false},
                             {"description", "At most this much of your budget; "
                                             "default: an even share."}}},
                 {"output_schema", {{"type", "object"},
                                    {"description", "A JSON Schema the child's answer "
                                                    "must match, as JSON text."}}}}},
               {"required", {"agent", "task"}},
               {"additionalProperties", false}},
          tool_effect::idempotent,
          [](const json&, const tool_context&) {
            return tool_outcome{false,
                                "delegate: runs only inside a run, through its supervisor",
                                false};
          }};
}

std::string delegation_refusal(const run_state& st, const json& args, int64_t now_us) {
  auto agent = str_arg(args, "agent");
  if (std::find(st.delegates.begin(), st.delegates.end(), agent) == st.delegates.end())
    return "agent '" + st.agent + "' may not delegate to '" + agent + "'"
           + (st.delegates.empty() ? std::string{" (it may delegate to no agent)"}
                                   : " (it may delegate to: " + join(st.delegates) + ")");
  uint64_t started = st.children_started;
  for (auto& slot : st.calls)
    if (slot.call.name == delegate_tool && slot.status == call_status::in_flight
        && !slot.child_running)
      ++started; // allowed, its child not journaled yet
  if (started >= st.limits.max_children)
    return "the children-per-run limit (" + std::to_string(st.limits.max_children)
           + ") is reached";
  if (auto s = args.find("output_schema"); s != args.end()) {
    if (auto err = check_schema(*s))
      return "output_schema: " + render(err);
  }
  std::string why;
  if (!split(st, args, now_us, why))
    return why;
  return {};
}

std::optional<delegation> plan_delegation(const run_state& st, const tool_call_ref& call,
                                          int64_t now_us, std::string* why) {
  auto args = json::parse(call.args_json, nullptr, false);
  std::string reason;
  auto limits = args.is_object() ? split(st, args, now_us, reason) : std::nullopt;
  if (!limits) {
    if (why != nullptr)
      *why = reason.empty() ? "delegate: malformed arguments" : reason;
    return std::nullopt;
  }
  delegation d;
  d.call_id = call.call_id;
  d.child_run_id = st.run_id + "." + std::to_string(st.children_started + 1);
  d.agent = str_arg(args, "agent");
  d.task = str_arg(args, "task");
  d.limits = *limits;
  d.depth = st.depth + 1;
  if (auto s = args.find("output_schema"); s != args.end())
    d.output_schema = s->dump();
  return d;
}

caf::expected<run_start> child_start(const scenario& sc, const run_start& parent,
                                     const delegation& d) {
  auto i = sc.agents.find(d.agent);
  if (i == sc.agents.end())
    return caf::make_error(runtime_errc::invalid_scenario,
                           sc.source + ": no agent '" + d.agent + "' to delegate to");
  auto& agent = i->second;
  run_start s;
  s.agent = agent.name;
  s.tenant = parent.tenant;
  s.task = d.task;
  s.model = agent.model;
  s.instructions = agent.instructions;
  if (!d.output_schema.empty())
    s.instructions += std::string(s.instructions.empty() ? "" : "\n\n")
                      + "Your final answer (`complete`'s answer) must be JSON matching this "
                        "schema: "
                      + d.output_schema;
  s.tools = agent.tools;
  s.limits = d.limits;
  s.scenario = parent.scenario;
  s.workspace = parent.workspace;
  s.external_tools = parent.external_tools;
  s.depth = d.depth;
  s.delegates = agent.delegates;
  s.children_on_end = parent.children_on_end;
  s.parent_call_id = d.call_id;
  s.role = d.role;
  s.phase = d.phase;
  s.artifact = agent.artifact;
  s.max_fix_attempts = std::max<uint32_t>(d.max_fix_attempts, 1);
  if (!s.artifact.empty())
    s.verification.push_back(artifact_check(s.artifact));
  s.verification.insert(s.verification.end(), d.checks.begin(), d.checks.end());
  return s;
}

delegation_result delegation_result_of(const delegation& d, const run_result& r) {
  return {d.call_id, d.child_run_id, r.status, r.answer, r.summary, r.reason, r.totals,
          r.verification_attempts, r.artifacts};
}

tool_result delegation_tool_result(const delegation& d, const delegation_result& r) {
  auto who = "child run " + d.child_run_id + " (" + d.agent + ")";
  if (r.status != run_status::completed)
    return {d.call_id, std::string(delegate_tool), false,
            who + " ended " + std::string(to_string(r.status))
              + (r.reason.empty() ? "" : " (" + r.reason + ")") + ": " + r.summary};
  if (!d.output_schema.empty()) {
    auto schema = json::parse(d.output_schema, nullptr, false);
    auto answer = json::parse(r.answer, nullptr, false);
    if (answer.is_discarded())
      return {d.call_id, std::string(delegate_tool), false,
              who + " answered text that is not JSON, but an output_schema was given: "
                + r.answer};
    if (auto err = validate_json(schema, answer))
      return {d.call_id, std::string(delegate_tool), false,
              who + "'s answer does not match the output_schema (" + render(err)
                + "): " + r.answer};
  }
  return {d.call_id, std::string(delegate_tool), true, r.answer};
}

} // namespace troupe
