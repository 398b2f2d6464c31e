// `troupe replay RUN`: re-runs a journaled run's logic offline and compares
// every decision with the journal.

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "sandbox/shell_tool.hpp"
#include "core/builtin_tools.hpp"
#include "core/replay.hpp"
#include "core/runtime_errc.hpp"
#include "core/scenario.hpp"

#include <filesystem>
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

int replay(const common_options& opts, const std::string& run_id,
           const std::string& opts_with) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  if (auto run = db->find_run(run_id); !run)
    return report(run.error());
  auto loaded = db->load_run(run_id);
  if (!loaded)
    return report(loaded.error());
  auto& events = *loaded;
  // The console knows the built-in tools; embedders replay runs that used
  // their own tools through troupe::replay_run with their registry.
  tool_registry registry;
  if (auto reg_err = register_builtin_tools(registry))
    return report(reg_err);
  // Replay never runs a tool; the shell tool is there for its schema.
  if (auto reg_err = registry.add(make_shell_tool({})))
    return report(reg_err);
  // The policy the run was decided by: its scenario's (the path is in
  // run_start), or the built-in default when the run had no scenario file.
  auto governance = default_policy();
  auto with = opts_with.empty()
                ? (events.empty() ? std::string{}
                                  : std::get<run_start>(events.front().body).scenario)
                : opts_with;
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
  auto rep = replay_run(events, registry, governance);
  if (opts.json) {
    nlohmann::ordered_json out{{"run_id", run_id},
                               {"identical", rep.identical()},
                               {"events", rep.events}};
    if (rep.divergence)
      out["divergence"] = {{"seq", rep.divergence->seq},
                           {"expected", rep.divergence->expected},
                           {"got", rep.divergence->got}};
    std::cout << to_json_text(out) << std::endl;
  } else if (rep.identical()) {
    std::printf("identical (%llu events)\n",
                static_cast<unsigned long long>(rep.events));
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
