#pragma once
// A delegation tree read back from the runs table: every run that shares a
// root_run_id, arranged by parent_run_id. The columns decide, never the shape
// of a run id. `troupe tree` prints it and `troupe replay` walks a subtree.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "persistence/store.hpp"

namespace troupe::persistence {

/// A run's root: its root_run_id, or the run itself when the column is empty
/// (a top-level run written by hand or by a build that left it empty).
[[nodiscard]] const std::string& root_of(const run_info& run) noexcept;

struct run_tree_node {
  run_info run;
  uint32_t depth = 0; ///< 0 for the tree's top
  size_t end = 0;     ///< one past the node's last descendant in run_tree::nodes
};

struct run_tree {
  /// Depth first from the top; a node's children in creation order
  /// (created_us, then run id). Node i's subtree is nodes[i, nodes[i].end).
  std::vector<run_tree_node> nodes;
  /// Runs of the same root whose parent chain does not reach the top (a
  /// parent missing from the journal, e.g. a child imported alone, or a
  /// damaged parent_run_id). Listed, never placed under a run they do not
  /// name.
  std::vector<run_info> unattached;

  static constexpr size_t npos = static_cast<size_t>(-1);

  /// The index of `run_id` in `nodes`, or npos.
  [[nodiscard]] size_t index_of(const std::string& run_id) const noexcept;
};

/// Arranges `runs` (one root's, as store::list_tree gives them) into the
/// tree that holds `focus`. Its top is the root when the journal has it; otherwise the
/// highest ancestor of `focus` that it has, so the tree of a child imported
/// without its parent still shows. Parent cycles (only a damaged or hand-made
/// journal has them) end the walk up and never repeat a node. Pure. When
/// `focus` is not among `runs`, the tree has no nodes.
[[nodiscard]] run_tree arrange_run_tree(std::vector<run_info> runs,
                                        const std::string& focus);

} // namespace troupe::persistence
