// `troupe tree RUN`: the delegation tree that holds a run, one line (or one
// JSON object) per run, from the runs table's parent and root columns.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "actors/run_reader.hpp"
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

// A finished run's KPIs are its row's, written from its completion event. A
// running run's row holds zeros until it completes, so its KPIs are folded
// from its latest checkpoint and the events after it, as `troupe show` does.
caf::error fill_current_totals(persistence::store& db, run_tree& tree) {
  for (auto& node : tree.nodes) {
    if (node.run.status != run_status::running)
      continue;
    auto rebuilt = read_run(db, node.run.run_id, rebuild_scope::control_only);
    if (!rebuilt)
      return std::move(rebuilt.error());
    node.run.totals = fold_tail(std::move(*rebuilt)).totals;
  }
  return {};
}

// A team's role run: its role and phase, from its run_start.
struct role_of_run {
  std::string role;
  std::string phase;
};
using roles_by_run = std::map<std::string, role_of_run>;

caf::expected<roles_by_run> read_roles(persistence::store& db, const run_tree& tree) {
  roles_by_run out;
  for (auto& node : tree.nodes) {
    auto rows = db.events(node.run.run_id, event_kind::run_start);
    if (!rows)
      return std::move(rows.error());
    if (rows->empty())
      continue;
    auto ev = decode(rows->front().bytes);
    if (!ev)
      return std::move(ev.error());
    auto& start = std::get<run_start>(ev->body);
    out[node.run.run_id] = {start.role, start.team.empty() ? start.phase : "team"};
  }
  return out;
}

ordered_json node_json(const persistence::run_info& r, const roles_by_run& roles) {
  auto& k = r.totals;
  auto role = roles.count(r.run_id) > 0 ? roles.at(r.run_id) : role_of_run{};
  return ordered_json{{"run_id", r.run_id},
                      {"parent_run_id", r.parent_run_id},
                      {"agent", r.agent},
                      {"role", role.role},
                      {"phase", role.phase},
                      {"status", to_string(r.status)},
                      {"turns", k.turns},
                      {"tool_calls", k.tool_calls},
                      {"model_calls", k.model_calls},
                      {"input_tokens", k.input_tokens},
                      {"output_tokens", k.output_tokens},
                      {"cost_micro_usd", k.cost_micro_usd},
                      {"wall_ms", k.wall_ms},
                      {"children", ordered_json::array()}};
}

// Built bottom-up over the depth-first order, without recursion: node i's
// children are the nodes of its subtree one level deeper, each followed by
// its own subtree.
ordered_json tree_json(run_tree& tree, const roles_by_run& roles) {
  auto& nodes = tree.nodes;
  std::vector<ordered_json> built(nodes.size());
  for (size_t i = nodes.size(); i-- > 0;) {
    built[i] = node_json(nodes[i].run, roles);
    for (size_t j = i + 1; j < nodes[i].end; j = nodes[j].end)
      built[i]["children"].push_back(std::move(built[j]));
  }
  auto out = std::move(built.front());
  if (!tree.unattached.empty()) {
    auto extra = ordered_json::array();
    for (auto& r : tree.unattached)
      extra.push_back(node_json(r, roles));
    out["unattached"] = std::move(extra);
  }
  return out;
}

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

caf::expected<run_tree> read_run_tree(persistence::store& db, const std::string& run_id) {
  auto run = db.find_run(run_id);
  if (!run)
    return std::move(run.error());
  auto runs = db.list_tree(persistence::root_of(*run));
  if (!runs)
    return std::move(runs.error());
  return persistence::arrange_run_tree(std::move(*runs), run_id);
}

int tree(const common_options& opts, const std::string& run_id) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto t = read_run_tree(*db, run_id);
  if (!t)
    return report(t.error());
  if (auto err = fill_current_totals(*db, *t))
    return report(err);
  auto roles = read_roles(*db, *t);
  if (!roles)
    return report(roles.error());
  if (opts.json)
    std::cout << to_json_text(tree_json(*t, *roles)) << "\n";
  else
    print_tree(*t, run_id, *roles);
  return exit_ok;
}

} // namespace troupe::cli
