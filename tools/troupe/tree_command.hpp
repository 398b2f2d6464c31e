#pragma once
// `troupe tree RUN`: the delegation tree holding a run. Replay walks the same
// tree (read_run_tree) to replay a run's whole subtree.

#include <string>

#include <caf/expected.hpp>

#include "actors/run_tree_view.hpp"
#include "persistence/store.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

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
