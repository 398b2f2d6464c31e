#pragma once
// A run's delegation tree as the console (`troupe tree --json`) and the HTTP
// API (`GET /v1/runs/{id}/tree`) show it: every run of the tree with its
// agent, role, phase, status and KPIs (a running run's folded from its
// latest checkpoint). Blocking: it reads SQLite.

#include <map>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "persistence/run_tree.hpp"
#include "persistence/store.hpp"

namespace troupe {

/// A team's role run: its role and phase, from its run_start.
struct role_of_run {
  std::string role;
  std::string phase;
};
using roles_by_run = std::map<std::string, role_of_run>;

struct run_tree_view {
  persistence::run_tree tree;
  roles_by_run roles;
};

/// The tree of `run_id`'s root (persistence::arrange_run_tree), with the
/// runs table's KPIs. Errors: the store's, unknown_run when the journal has
/// no such run.
[[nodiscard]] caf::expected<persistence::run_tree>
read_run_tree(persistence::store& db, const std::string& run_id);

/// read_run_tree, with current KPIs and each run's role.
[[nodiscard]] caf::expected<run_tree_view> read_run_tree_view(persistence::store& db,
                                                              const std::string& run_id);

/// The top run with `children`, recursively (and `unattached` when some
/// runs could not be placed).
[[nodiscard]] nlohmann::ordered_json to_json(const run_tree_view& view);

} // namespace troupe
