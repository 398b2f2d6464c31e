// `troupe tree RUN`: the delegation tree that holds a run, one line (or one
// JSON object) per run, from the runs table's parent and root columns.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "actors/run_tree_view.hpp"
#include "core/run_state.hpp"
#include "persistence/run_tree.hpp"
#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/tree_command.hpp"

namespace troupe::cli {

namespace {

using nlohmann::ordered_json;
using persistence::run_tree;

void print_tree(const run_tree& tree, const std::string& focus, const roles_by_run& roles) {
  // The run column holds the indentation, the id and the mark of `focus`.
  auto label = [&](const persistence::run_tree_node& n) {
    return std::string(2 * n.depth, ' ') + n.run.run_id + (n.run.run_id == focus ? " *" : "");
  };
  size_t run_w = 3, agent_w = 5;
  for (auto& n : tree.nodes) {
    run_w = std::max(run_w, label(n).size());
    agent_w = std::max(agent_w, n.run.agent.size());
  }
  // A team's tree also shows each run's phase.
  size_t phase_w = 0;
  for (auto& [id, r] : roles)
    phase_w = std::max(phase_w, r.phase.size());
  if (phase_w > 0)
    phase_w = std::max<size_t>(phase_w, 5) + 2;
  auto phase_of = [&](const std::string& id) {
    auto i = roles.find(id);
    return i == roles.end() ? std::string{} : i->second.phase;
  };
  auto w = static_cast<int>(run_w), aw = static_cast<int>(agent_w);
  auto pw = static_cast<int>(phase_w);
  std::printf("%-*s  %-*s  %-*s%-13s %6s %6s %10s %11s %10s\n", w, "RUN", aw, "AGENT", pw,
              phase_w > 0 ? "PHASE" : "", "STATUS", "TURNS", "TOOLS", "TOKENS", "COST", "WALL");
  for (auto& n : tree.nodes) {
    auto& k = n.run.totals;
    std::printf("%-*s  %-*s  %-*s%-13s %6u %6u %10llu  $%.6f %9.3fs\n", w, label(n).c_str(), aw,
                n.run.agent.c_str(), pw, phase_of(n.run.run_id).c_str(),
                std::string(to_string(n.run.status)).c_str(), k.turns,
                k.tool_calls,
                static_cast<unsigned long long>(k.input_tokens + k.output_tokens),
                static_cast<double>(k.cost_micro_usd) / 1e6,
                static_cast<double>(k.wall_ms) / 1000.0);
  }
  for (auto& r : tree.unattached)
    std::printf("note: run %s names parent %s, which is not in this tree; not shown\n",
                r.run_id.c_str(), r.parent_run_id.c_str());
}

} // namespace

int tree(const common_options& opts, const std::string& run_id) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto view = read_run_tree_view(*db, run_id);
  if (!view)
    return report(view.error());
  if (opts.json)
    std::cout << to_json_text(to_json(*view)) << "\n";
  else
    print_tree(view->tree, run_id, view->roles);
  return exit_ok;
}

} // namespace troupe::cli
