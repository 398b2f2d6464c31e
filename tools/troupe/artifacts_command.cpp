// `troupe artifacts RUN`: the files the runs of RUN's tree produced, each with
// its content hash, size, producing run, role and phase (`artifact` events).

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/tree_command.hpp"

namespace troupe::cli {

int artifacts(const common_options& opts, const std::string& run_id) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto tree = read_run_tree(*db, run_id);
  if (!tree)
    return report(tree.error());
  auto out = nlohmann::ordered_json::array();
  for (auto& node : tree->nodes) {
    auto rows = db->events(node.run.run_id, event_kind::artifact);
    if (!rows)
      return report(rows.error());
    for (auto& row : *rows) {
      auto ev = decode(row.bytes);
      if (!ev)
        return report(ev.error());
      auto& a = std::get<artifact>(ev->body);
      out.push_back({{"path", a.path}, {"sha256", a.sha256}, {"bytes", a.bytes},
                     {"lines", a.lines}, {"run_id", ev->run_id},
                     {"parent_run_id", ev->parent_run_id}, {"agent", node.run.agent},
                     {"role", a.role}, {"phase", a.phase}, {"seq", ev->seq}});
    }
  }
  if (opts.json) {
    std::cout << to_json_text(out) << "\n";
    return exit_ok;
  }
  if (out.empty()) {
    std::printf("no artifacts in the tree of %s\n", run_id.c_str());
    return exit_ok;
  }
  std::printf("%-24s %-12s %-14s %8s %6s  %s\n", "PATH", "PHASE", "ROLE", "BYTES", "LINES",
              "SHA256 / RUN");
  for (auto& a : out)
    std::printf("%-24s %-12s %-14s %8llu %6llu  %s  %s\n", a["path"].get<std::string>().c_str(),
                a["phase"].get<std::string>().c_str(), a["role"].get<std::string>().c_str(),
                static_cast<unsigned long long>(a["bytes"].get<uint64_t>()),
                static_cast<unsigned long long>(a["lines"].get<uint64_t>()),
                a["sha256"].get<std::string>().c_str(), a["run_id"].get<std::string>().c_str());
  return exit_ok;
}

} // namespace troupe::cli
