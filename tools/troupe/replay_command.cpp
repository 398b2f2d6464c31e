// `troupe replay RUN`: re-runs a journaled run's logic offline and compares
// every decision with the journal.

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "sandbox/shell_tool.hpp"
#include "core/builtin_tools.hpp"
#include "core/external_tools.hpp"
#include "core/replay.hpp"
#include "actors/run_reader.hpp"
#include "core/runtime_errc.hpp"
#include "core/scenario.hpp"

#include <filesystem>
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/tree_command.hpp"

namespace troupe::cli {

namespace {

// The run as replay reads it: every event, or (from a checkpoint) the latest
// usable checkpoint and the events after it. Every row is verified either way.
struct replay_input {
  std::vector<event> events;         ///< a full replay's
  std::optional<rebuilt_run> rebuilt; ///< --from-checkpoint's
  const run_start& start() const {
    return std::get<run_start>(rebuilt ? rebuilt->start.body : events.front().body);
  }
};

caf::expected<replay_input> read_input(persistence::store& db, const std::string& run_id,
                                       bool from_checkpoint) {
  replay_input in;
  if (from_checkpoint) {
    auto rebuilt = read_run(db, run_id);
    if (!rebuilt)
      return std::move(rebuilt.error());
    in.rebuilt = std::move(*rebuilt);
    return in;
  }
  auto loaded = db.load_run(run_id);
  if (!loaded)
    return std::move(loaded.error());
  in.events = std::move(*loaded);
  if (!std::holds_alternative<run_start>(in.events.front().body))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "run " + run_id + " does not begin with run_start");
  return in;
}

// One run's replay, as the console does it for a run alone.
struct node_replay {
  replay_report rep;
  std::string passed_over; ///< --from-checkpoint: a checkpoint it could not use
};

// The console knows the built-in tools; embedders replay runs that used
// their own tools through troupe::replay_run with their registry.
caf::expected<std::shared_ptr<tool_registry>> console_tools() {
  auto builtins = std::make_shared<tool_registry>();
  if (auto reg_err = register_builtin_tools(*builtins))
    return reg_err;
  // Replay never runs a tool; the shell tool is there for its schema.
  if (auto reg_err = builtins->add(make_shell_tool({})))
    return reg_err;
  return builtins;
}

caf::expected<node_replay> replay_node(persistence::store& db, const std::string& run_id,
                                       const std::string& opts_with, bool from_checkpoint) {
  auto input = read_input(db, run_id, from_checkpoint);
  if (!input)
    return std::move(input.error());
  auto builtins = console_tools();
  if (!builtins)
    return std::move(builtins.error());
  // MCP tools as the run saw them: journaled in its run_start, so replay
  // needs no server.
  auto seen = with_external_tools(*builtins, input->start().external_tools);
  if (!seen)
    return std::move(seen.error());
  const tool_registry& registry = **seen;
  // The policy the run was decided by: its scenario's (the path is in
  // run_start), or the built-in default when the run had no scenario file.
  auto governance = default_policy();
  auto with = opts_with.empty() ? input->start().scenario : opts_with;
  std::error_code ec;
  if (!with.empty() && std::filesystem::exists(with, ec)) {
    auto sc = load_scenario(with, registry.names());
    if (!sc) {
      if (!opts_with.empty())
        return std::move(sc.error());
    } else {
      governance = sc->governance;
    }
  } else if (!opts_with.empty()) {
    return caf::make_error(runtime_errc::invalid_scenario,
                           opts_with + ": no such scenario file");
  }
  node_replay out;
  out.rep = input->rebuilt ? replay_from_checkpoint(*input->rebuilt, registry, governance)
                           : replay_run(input->events, registry, governance);
  if (input->rebuilt)
    out.passed_over = input->rebuilt->passed_over;
  return out;
}

int print_one(const common_options& opts, const std::string& run_id,
              const std::string& opts_with, bool from_checkpoint, const node_replay& node) {
  auto& rep = node.rep;
  auto& passed_over = node.passed_over;
  if (opts.json) {
    nlohmann::ordered_json out{{"run_id", run_id},
                               {"identical", rep.identical()},
                               {"runs", 1},
                               {"events", rep.events},
                               {"snapshots", rep.snapshots}};
    if (from_checkpoint) {
      out["from_checkpoint_seq"] = rep.from_seq;
      out["passed_over"] = passed_over;
    }
    if (rep.divergence)
      out["divergence"] = {{"run_id", run_id},
                           {"seq", rep.divergence->seq},
                           {"expected", rep.divergence->expected},
                           {"got", rep.divergence->got}};
    std::cout << to_json_text(out) << std::endl;
    return rep.identical() ? exit_ok : exit_failure;
  }
  if (!passed_over.empty())
    std::printf("note: %s\n", passed_over.c_str());
  if (from_checkpoint && rep.from_seq != 0)
    std::printf("from the checkpoint at seq %u: ", rep.from_seq);
  else if (from_checkpoint)
    std::printf("no usable checkpoint, from run_start: ");
  if (rep.identical()) {
    std::printf("identical (%llu events, %llu snapshots checked)\n",
                static_cast<unsigned long long>(rep.events),
                static_cast<unsigned long long>(rep.snapshots));
  } else {
    if (!opts_with.empty())
      std::printf("with %s the run would split:\n", opts_with.c_str());
    std::printf("diverged at seq %u\n  expected: %s\n  got:      %s\n",
                rep.divergence->seq, rep.divergence->expected.c_str(),
                rep.divergence->got.c_str());
  }
  return rep.identical() ? exit_ok : exit_failure;
}

// Replays `subtree` (a run, then its descendants depth first in creation
// order), each run as replay_node does it alone, and stops at the first
// divergence: it is the one to look at, and the exit code says no either way.
int replay_subtree(persistence::store& db, const common_options& opts,
                   const std::vector<std::string>& subtree, const std::string& opts_with,
                   bool from_checkpoint) {
  uint64_t runs = 0, events = 0, snapshots = 0;
  std::optional<replay_divergence> divergence;
  std::string diverged_in;
  auto nodes = nlohmann::ordered_json::array();
  std::vector<std::string> notes;
  for (auto& id : subtree) {
    auto node = replay_node(db, id, opts_with, from_checkpoint);
    if (!node)
      return report(node.error());
    ++runs;
    events += node->rep.events;
    snapshots += node->rep.snapshots;
    if (!node->passed_over.empty())
      notes.push_back(node->passed_over); // names its run already
    nodes.push_back({{"run_id", id},
                     {"identical", node->rep.identical()},
                     {"events", node->rep.events},
                     {"snapshots", node->rep.snapshots},
                     {"from_checkpoint_seq", node->rep.from_seq},
                     {"passed_over", node->passed_over}});
    if (node->rep.divergence) {
      divergence = node->rep.divergence;
      diverged_in = id;
      break;
    }
  }
  if (opts.json) {
    nlohmann::ordered_json out{{"run_id", subtree.front()},
                               {"identical", !divergence},
                               {"runs", runs},
                               {"events", events},
                               {"snapshots", snapshots}};
    if (from_checkpoint)
      out["nodes"] = std::move(nodes);
    if (divergence)
      out["divergence"] = {{"run_id", diverged_in},
                           {"seq", divergence->seq},
                           {"expected", divergence->expected},
                           {"got", divergence->got}};
    std::cout << to_json_text(out) << std::endl;
    return divergence ? exit_failure : exit_ok;
  }
  for (auto& note : notes)
    std::printf("note: %s\n", note.c_str());
  if (!divergence) {
    std::printf("%sidentical (%llu runs, %llu events, %llu snapshots checked)\n",
                from_checkpoint ? "from the latest checkpoints: " : "",
                static_cast<unsigned long long>(runs),
                static_cast<unsigned long long>(events),
                static_cast<unsigned long long>(snapshots));
    return exit_ok;
  }
  if (!opts_with.empty())
    std::printf("with %s the run would split:\n", opts_with.c_str());
  std::printf("run %s: diverged at seq %u\n  expected: %s\n  got:      %s\n",
              diverged_in.c_str(), divergence->seq, divergence->expected.c_str(),
              divergence->got.c_str());
  return exit_failure;
}

} // namespace

int replay(const common_options& opts, const std::string& run_id,
           const std::string& opts_with, bool from_checkpoint) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto tree = read_run_tree(*db, run_id);
  if (!tree)
    return report(tree.error());
  auto at = tree->index_of(run_id);
  if (at == persistence::run_tree::npos || tree->nodes[at].end == at + 1) {
    // A run without children: exactly the report of a single run.
    auto node = replay_node(*db, run_id, opts_with, from_checkpoint);
    if (!node)
      return report(node.error());
    return print_one(opts, run_id, opts_with, from_checkpoint, *node);
  }
  auto& nodes = tree->nodes;
  std::vector<std::string> subtree;
  for (auto i = at; i < nodes[at].end; ++i)
    subtree.push_back(nodes[i].run.run_id);
  return replay_subtree(*db, opts, subtree, opts_with, from_checkpoint);
}

} // namespace troupe::cli
