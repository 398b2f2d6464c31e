// `troupe diff RUN_A RUN_B`: compares two runs step by step.

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "core/replay.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

caf::expected<std::vector<event>> load_run(persistence::store& db,
                                           const std::string& run_id) {
  if (auto run = db.find_run(run_id); !run)
    return std::move(run.error());
  return db.load_run(run_id);
}

// What two runs must share to be "the same step": the decision, plus the
// content of inputs (replies, results), which replay treats as given.
std::string step_of(const event& ev) {
  auto s = describe_decision(ev);
  if (auto* r = std::get_if<model_reply>(&ev.body)) {
    s += " failure=" + r->failure + " text=" + r->text;
    for (auto& c : r->tool_calls)
      s += " call=" + c.name + c.args_json;
  } else if (auto* t = std::get_if<tool_result>(&ev.body)) {
    s += std::string(t->ok ? " ok " : " failed ") + t->output;
  }
  return s;
}

} // namespace

int diff(const common_options& opts, const std::string& run_a,
         const std::string& run_b) {
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto a = load_run(*db, run_a);
  if (!a)
    return report(a.error());
  auto b = load_run(*db, run_b);
  if (!b)
    return report(b.error());
  // Ids and timestamps always differ; run_start compares by agent only.
  size_t n = std::min(a->size(), b->size());
  size_t i = 0;
  while (i < n && step_of((*a)[i]) == step_of((*b)[i]))
    ++i;
  bool same = i == n && a->size() == b->size();
  auto at = [](const std::vector<event>& evs, size_t k) {
    return k < evs.size() ? step_of(evs[k]) : std::string("(run ended)");
  };
  if (opts.json) {
    nlohmann::ordered_json out{{"run_a", run_a}, {"run_b", run_b},
                               {"same", same}, {"common_steps", i}};
    if (!same)
      out["first_difference"] = {{"seq", i + 1}, {"a", at(*a, i)}, {"b", at(*b, i)}};
    std::cout << to_json_text(out) << std::endl;
  } else if (same) {
    std::printf("same steps (%zu events each)\n", a->size());
  } else {
    std::printf("same for %zu steps; first difference at seq %zu\n  %s: %s\n  %s: %s\n",
                i, i + 1, run_a.c_str(), at(*a, i).c_str(), run_b.c_str(),
                at(*b, i).c_str());
  }
  return same ? exit_ok : exit_failure;
}

} // namespace troupe::cli
