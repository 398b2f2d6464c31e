#include "core/run_admission.hpp"

#include <algorithm>

#include "core/external_tools.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/runtime_errc.hpp"
#include "core/verification.hpp"

namespace troupe {

namespace {

// `root` and every agent it can reach through `delegates`, in a stable order.
std::vector<std::string> reachable_agents(const scenario& sc, const std::string& root) {
  std::vector<std::string> out{root};
  for (size_t i = 0; i < out.size(); ++i)
    for (auto& next : sc.agents.at(out[i]).delegates)
      if (std::find(out.begin(), out.end(), next) == out.end())
        out.push_back(next);
  return out;
}

} // namespace

namespace {

// A team run: no model of its own; its phases' roles are its children.
caf::expected<run_start> admit_team(const scenario& sc, const team_config& team,
                                    std::string task, const tool_registry& registry,
                                    std::string scenario_key) {
  run_start start;
  start.agent = team.name;
  start.team = team.name;
  start.phases = team.phases;
  start.task = std::move(task);
  start.tenant = sc.tenant;
  start.limits = sc.limits;
  start.scenario = std::move(scenario_key);
  start.workspace = sc.workspace_root.string();
  start.children_on_end = "wait";
  std::vector<std::string> roles;
  for (auto& ph : team.phases)
    for (auto* r : {&ph.role, &ph.approver})
      if (sc.agents.count(*r) > 0)
        for (auto& name : reachable_agents(sc, *r))
          if (std::find(roles.begin(), roles.end(), name) == roles.end())
            roles.push_back(name);
  for (auto& name : roles)
    for (const auto& t : sc.agents.at(name).tools)
      if (mcp_server_of(t)) {
        auto* def = registry.find(t);
        if (def == nullptr)
          return caf::make_error(runtime_errc::unknown_tool,
                                 sc.source + ": agent '" + name + "' lists tool '" + t
                                   + "', which its MCP server does not offer");
        bool seen = std::any_of(start.external_tools.begin(), start.external_tools.end(),
                                [&](auto& x) { return x.name == t; });
        if (!seen)
          start.external_tools.push_back(external_of(*def));
      }
  return start;
}

} // namespace

caf::expected<run_start> admit_run(const scenario& sc, const std::string& agent,
                                   const std::string& task, const tool_registry& registry,
                                   std::string scenario_key) {
  if (agent.empty() && !sc.team.empty()) {
    auto t = task.empty() ? sc.task : task;
    if (t.empty())
      return caf::make_error(runtime_errc::invalid_scenario,
                             sc.source + ": the run has no task; set [run].task "
                                         "or pass one (--task)");
    return admit_team(sc, sc.teams.at(sc.team), std::move(t), registry, std::move(scenario_key));
  }
  auto agent_name = agent.empty() ? sc.agent : agent;
  auto found = sc.agents.find(agent_name);
  if (found == sc.agents.end())
    return caf::make_error(runtime_errc::invalid_scenario,
                           sc.source + ": no agent '" + agent_name + "'");
  const auto& cfg = found->second;
  run_start start;
  start.task = task.empty() ? sc.task : task;
  if (start.task.empty())
    return caf::make_error(runtime_errc::invalid_scenario,
                           sc.source + ": the run has no task; set [run].task "
                                       "or pass one (--task)");
  // The whole tree decides with the MCP tools offered when its root started:
  // those of every agent the root can reach by delegation.
  for (auto& name : reachable_agents(sc, agent_name)) {
    for (const auto& t : sc.agents.at(name).tools) {
      auto* def = registry.find(t);
      if (def == nullptr)
        return caf::make_error(runtime_errc::unknown_tool,
                               sc.source + ": agent '" + name + "' lists tool '" + t
                                 + "', which is not registered"
                                 + (mcp_server_of(t) ? " (its MCP server does not offer it, or "
                                                       "[mcp].tools hides it)"
                                                     : ""));
      bool seen = std::any_of(start.external_tools.begin(), start.external_tools.end(),
                              [&](auto& x) { return x.name == t; });
      if (mcp_server_of(t) && !seen)
        start.external_tools.push_back(external_of(*def));
    }
  }
  start.agent = agent_name;
  start.tenant = sc.tenant;
  start.model = cfg.model;
  start.instructions = cfg.instructions;
  start.tools = cfg.tools;
  start.limits = sc.limits;
  start.scenario = std::move(scenario_key);
  start.workspace = sc.workspace_root.string();
  start.delegates = cfg.delegates;
  start.children_on_end = sc.children_on_end;
  start.artifact = cfg.artifact;
  if (!cfg.artifact.empty())
    start.verification.push_back(artifact_check(cfg.artifact));
  if (agent_name == sc.agent)
    start.verification.insert(start.verification.end(), sc.verify.begin(), sc.verify.end());
  start.max_fix_attempts = sc.max_fix_attempts;
  return start;
}

resume_gate::resume_gate(size_t limit) : limit_(std::max<size_t>(1, limit)) {
  // nop
}

bool resume_gate::admit(const std::string& run_id) {
  if (alive_.size() < limit_) {
    alive_.insert(run_id);
    return true;
  }
  waiting_.push_back(run_id);
  return false;
}

std::optional<std::string> resume_gate::release(const std::string& run_id) {
  if (alive_.erase(run_id) == 0) {
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), run_id), waiting_.end());
    return std::nullopt;
  }
  if (waiting_.empty())
    return std::nullopt;
  auto next = std::move(waiting_.front());
  waiting_.pop_front();
  alive_.insert(next);
  return next;
}

std::vector<std::string> resume_gate::drop_waiting() {
  std::vector<std::string> out(waiting_.begin(), waiting_.end());
  waiting_.clear();
  return out;
}

} // namespace troupe
