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

} // namespace

int replay(const common_options& opts, const std::string& run_id,
           const std::string& opts_with, bool from_checkpoint) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  if (auto run = db->find_run(run_id); !run)
    return report(run.error());
  auto input = read_input(*db, run_id, from_checkpoint);
  if (!input)
    return report(input.error());
  // The console knows the built-in tools; embedders replay runs that used
  // their own tools through troupe::replay_run with their registry.
  auto builtins = std::make_shared<tool_registry>();
  if (auto reg_err = register_builtin_tools(*builtins))
    return report(reg_err);
  // Replay never runs a tool; the shell tool is there for its schema.
  if (auto reg_err = builtins->add(make_shell_tool({})))
    return report(reg_err);
  // MCP tools as the run saw them: journaled in its run_start, so replay
  // needs no server.
  auto seen = with_external_tools(builtins, input->start().external_tools);
  if (!seen)
    return report(seen.error());
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
        return report(sc.error());
    } else {
      governance = sc->governance;
    }
  } else if (!opts_with.empty()) {
    return report(caf::make_error(runtime_errc::invalid_scenario,
                                  opts_with + ": no such scenario file"));
  }
  auto rep = input->rebuilt ? replay_from_checkpoint(*input->rebuilt, registry, governance)
                            : replay_run(input->events, registry, governance);
  auto passed_over = input->rebuilt ? input->rebuilt->passed_over : std::string{};
  if (opts.json) {
    nlohmann::ordered_json out{{"run_id", run_id},
                               {"identical", rep.identical()},
                               {"events", rep.events},
                               {"snapshots", rep.snapshots}};
    if (from_checkpoint) {
      out["from_checkpoint_seq"] = rep.from_seq;
      out["passed_over"] = passed_over;
    }
    if (rep.divergence)
      out["divergence"] = {{"seq", rep.divergence->seq},
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

} // namespace troupe::cli
