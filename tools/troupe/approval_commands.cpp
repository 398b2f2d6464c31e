// `troupe approvals | approve | deny`: decide pending tool calls from any
// process; the run waiting for them picks the decision up from the journal.

#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "persistence/approval_store.hpp"
#include "core/event_summary.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

int approvals(const common_options& opts) {
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto store = persistence::approval_store::open(opts.db);
  if (!store)
    return report(store.error());
  auto rows = store->pending();
  if (!rows)
    return report(rows.error());
  if (opts.json) {
    auto arr = nlohmann::ordered_json::array();
    for (auto& r : *rows)
      arr.push_back({{"run_id", r.run_id}, {"call_id", r.call_id}, {"tool", r.tool},
                     {"args_json", r.args_json}, {"rule", r.rule},
                     {"requested_us", r.requested_us}, {"deadline_us", r.deadline_us}});
    std::cout << to_json_text(arr) << std::endl;
    return exit_ok;
  }
  if (rows->empty()) {
    std::printf("no pending approvals in %s\n", opts.db.c_str());
    return exit_ok;
  }
  std::printf("%-28s %-10s %-12s %-16s %-23s %s\n", "RUN", "CALL", "TOOL", "RULE",
              "DEADLINE (UTC)", "ARGS");
  for (auto& r : *rows)
    std::printf("%-28s %-10s %-12s %-16s %-23s %s\n", r.run_id.c_str(), r.call_id.c_str(),
                r.tool.c_str(), r.rule.c_str(), format_timestamp(r.deadline_us).c_str(),
                one_line(r.args_json, 60).c_str());
  return exit_ok;
}

int decide(const common_options& opts, const std::string& run_id,
           const std::string& call_id, bool approved, const std::string& by,
           const std::string& reason) {
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto store = persistence::approval_store::open(opts.db);
  if (!store)
    return report(store.error());
  if (auto err = store->decide(run_id, call_id, approved, by, reason, now_us()))
    return report(err);
  std::printf("%s run %s call %s\n", approved ? "approved" : "denied", run_id.c_str(),
              call_id.c_str());
  return exit_ok;
}

} // namespace troupe::cli
