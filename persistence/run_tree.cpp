// The delegation tree of a run, from the runs table's parent_run_id and
// root_run_id columns.

#include "persistence/run_tree.hpp"

#include "persistence/detail/store_impl.hpp"

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace troupe::persistence {

const std::string& root_of(const run_info& run) noexcept {
  return run.root_run_id.empty() ? run.run_id : run.root_run_id;
}

// TODO(perf): the runs table has no index on root_run_id, so this scans its
// rows (not their events); add one when journals hold many trees.
caf::expected<std::vector<run_info>> store::list_tree(const std::string& root_run_id) {
  auto& s = *impl_;
  // Only the ids here, then each row through find_run: one damaged row of
  // another tree (a status this build does not know) cannot fail this one.
  // A top-level run written with an empty root_run_id is its own root.
  detail::statement st;
  if (auto rc = st.prepare(s.db, "SELECT run_id FROM runs WHERE root_run_id = ?1 "
                                 "OR (root_run_id = '' AND run_id = ?1) ORDER BY id");
      rc != SQLITE_OK)
    return s.fail(rc, "listing the delegation tree of run " + root_run_id);
  st.bind(1, root_run_id);
  std::vector<std::string> ids;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW)
    ids.push_back(st.text_at(0));
  if (rc != SQLITE_DONE)
    return s.fail(rc, "listing the delegation tree of run " + root_run_id);
  std::vector<run_info> out;
  for (auto& id : ids) {
    auto run = find_run(id);
    if (!run)
      return std::move(run.error());
    out.push_back(std::move(*run));
  }
  return out;
}

size_t run_tree::index_of(const std::string& run_id) const noexcept {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].run.run_id == run_id)
      return i;
  return npos;
}

namespace {

// The highest ancestor of `focus` present in `runs`. `seen` guards against
// parent cycles: the walk stops before it would repeat a run.
size_t find_top(const std::vector<run_info>& runs,
                const std::unordered_map<std::string, size_t>& index, size_t focus) {
  std::vector<bool> seen(runs.size(), false);
  auto top = focus;
  seen[top] = true;
  for (;;) {
    auto parent = index.find(runs[top].parent_run_id);
    if (runs[top].parent_run_id.empty() || parent == index.end() || seen[parent->second])
      return top;
    top = parent->second;
    seen[top] = true;
  }
}

// Sets each node's `end` from the depths of the depth-first order: a subtree
// ends at the first later node that is no deeper than its top.
void close_subtrees(std::vector<run_tree_node>& nodes) {
  std::vector<size_t> open;
  for (size_t i = 0; i < nodes.size(); ++i) {
    while (!open.empty() && nodes[open.back()].depth >= nodes[i].depth) {
      nodes[open.back()].end = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  for (auto i : open)
    nodes[i].end = nodes.size();
}

} // namespace

run_tree arrange_run_tree(std::vector<run_info> runs, const std::string& focus) {
  run_tree tree;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < runs.size(); ++i)
    index.emplace(runs[i].run_id, i);
  auto focus_at = index.find(focus);
  if (focus_at == index.end())
    return tree;
  auto top = find_top(runs, index, focus_at->second);
  std::vector<std::vector<size_t>> children(runs.size());
  for (size_t i = 0; i < runs.size(); ++i)
    if (auto p = index.find(runs[i].parent_run_id);
        i != top && !runs[i].parent_run_id.empty() && p != index.end())
      children[p->second].push_back(i);
  auto by_creation = [&](size_t a, size_t b) {
    return std::tie(runs[a].created_us, runs[a].run_id)
           < std::tie(runs[b].created_us, runs[b].run_id);
  };
  for (auto& c : children)
    std::sort(c.begin(), c.end(), by_creation);
  // Iterative, so a deep chain cannot exhaust the stack; `placed` keeps a
  // cycle below the top from repeating a run.
  std::vector<bool> placed(runs.size(), false);
  std::vector<std::pair<size_t, uint32_t>> stack{{top, 0}};
  while (!stack.empty()) {
    auto [i, depth] = stack.back();
    stack.pop_back();
    if (placed[i])
      continue;
    placed[i] = true;
    tree.nodes.push_back({std::move(runs[i]), depth, 0});
    for (auto c = children[i].rbegin(); c != children[i].rend(); ++c)
      stack.emplace_back(*c, depth + 1);
  }
  close_subtrees(tree.nodes);
  for (size_t i = 0; i < runs.size(); ++i)
    if (!placed[i])
      tree.unattached.push_back(std::move(runs[i]));
  return tree;
}

} // namespace troupe::persistence
