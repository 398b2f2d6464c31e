// troupe export RUN --format otlp: reads the run's subtree from the journal
// (verified, as every reader does) and converts it with core/report/otlp.hpp.

#include <fstream>
#include <iostream>

#include "core/report/otlp.hpp"
#include "persistence/run_tree.hpp"
#include "persistence/store.hpp"
#include "tools/troupe/report_command.hpp"

namespace troupe::cli {

int export_otlp(const common_options& opts, const std::string& run_id, const std::string& out) {
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto run = db->find_run(run_id);
  if (!run)
    return report(run.error());
  auto members = db->list_tree(persistence::root_of(*run));
  if (!members)
    return report(members.error());
  auto tree = persistence::arrange_run_tree(std::move(*members), run_id);
  auto top = tree.index_of(run_id);
  std::vector<std::vector<event>> runs;
  for (size_t i = top; top != persistence::run_tree::npos && i < tree.nodes[top].end; ++i) {
    auto events = db->load_run(tree.nodes[i].run.run_id);
    if (!events)
      return report(events.error());
    runs.push_back(std::move(*events));
  }
  auto text = report::to_otlp(runs).dump() + "\n";
  if (out.empty()) {
    std::cout << text << std::flush;
    return exit_ok;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    std::cerr << "troupe: " << out << ": cannot write" << std::endl;
    return exit_failure;
  }
  return exit_ok;
}

} // namespace troupe::cli
