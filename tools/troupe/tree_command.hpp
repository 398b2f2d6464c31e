#pragma once
// `troupe tree RUN`: the delegation tree holding a run. Replay walks the same
// tree (read_run_tree) to replay a run's whole subtree.

#include <string>

#include <caf/expected.hpp>

#include "persistence/run_tree.hpp"
#include "persistence/store.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

/// The tree of `run_id`'s root (persistence::arrange_run_tree), with the
/// runs table's KPIs. Errors: the store's, unknown_run when the journal has
/// no such run.
[[nodiscard]] caf::expected<persistence::run_tree>
read_run_tree(persistence::store& db, const std::string& run_id);

/// Prints the tree one line per run, indented by depth, `run_id` marked
/// `*`: agent, status, turns, tool calls, tokens (input + output), cost and
/// wall time (a running run's KPIs from its latest checkpoint and the events
/// after it); runs of the root the tree cannot place are named in `note:`
/// lines. With `opts.json`, one object: the top run with `children`,
/// recursively (and `unattached` when some could not be placed). Opens the
/// journal read-only. Exit 0, 1 for an unknown run, else as report().
int tree(const common_options& opts, const std::string& run_id);

/// `troupe artifacts RUN`: every `artifact` event of RUN's tree.
int artifacts(const common_options& opts, const std::string& run_id);

} // namespace troupe::cli
