#include "actors/run_tree_view.hpp"

#include <vector>

#include "actors/run_reader.hpp"
#include "core/run_state.hpp"
#include "schemas/codec.hpp"

namespace troupe {

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
ordered_json tree_json(const run_tree& tree, const roles_by_run& roles) {
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

caf::expected<run_tree_view> read_run_tree_view(persistence::store& db,
                                                const std::string& run_id) {
  auto t = read_run_tree(db, run_id);
  if (!t)
    return std::move(t.error());
  if (auto err = fill_current_totals(db, *t))
    return err;
  auto roles = read_roles(db, *t);
  if (!roles)
    return std::move(roles.error());
  return run_tree_view{std::move(*t), std::move(*roles)};
}

ordered_json to_json(const run_tree_view& view) {
  return tree_json(view.tree, view.roles);
}

} // namespace troupe
