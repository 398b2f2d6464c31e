#include "persistence/kpi_reader.hpp"

#include <algorithm>

namespace troupe::persistence {

caf::expected<std::vector<report::run_facts>> read_run_facts(store& journal,
                                                             const kpi_selection& sel) {
  auto runs = journal.list_runs();
  if (!runs)
    return runs.error();
  std::vector<run_info> tops;
  for (auto& r : *runs) {
    if (!r.parent_run_id.empty())
      continue;
    if (sel.since_us && r.created_us < *sel.since_us)
      continue;
    if (sel.tenant && r.tenant != *sel.tenant)
      continue;
    tops.push_back(std::move(r));
  }
  std::sort(tops.begin(), tops.end(), [](auto& a, auto& b) {
    return a.created_us != b.created_us ? a.created_us < b.created_us : a.run_id < b.run_id;
  });
  std::vector<report::run_facts> out;
  out.reserve(tops.size());
  for (auto& top : tops) {
    auto tree = journal.list_tree(top.run_id);
    if (!tree)
      return tree.error();
    report::run_fold fold{top.run_id};
    for (auto& member : *tree) {
      auto events = journal.load_run(member.run_id);
      if (!events)
        return events.error();
      for (auto& ev : *events)
        fold.add(ev);
    }
    out.push_back(fold.facts());
  }
  return out;
}

} // namespace troupe::persistence
