#include "core/report/run_facts.hpp"

#include <array>
#include <optional>
#include <string_view>
#include <utility>

#include "core/run_state.hpp"

namespace troupe::report {

namespace {

// Lightest first; verification_tier takes the last one an attempt ran.
constexpr std::array<std::string_view, 5> tier_order{
  "file_exists", "json_matches", "command_succeeds", "test_passes", "approved_by"};

} // namespace

std::string verification_tier(const verification& v) {
  int best = -1;
  for (auto& r : v.results)
    for (size_t i = 0; i < tier_order.size(); ++i)
      if (r.kind == tier_order[i] && static_cast<int>(i) > best)
        best = static_cast<int>(i);
  return best < 0 ? std::string{"none"} : std::string{tier_order[static_cast<size_t>(best)]};
}

struct run_fold::per_run {
  run_state state;
  int64_t last_ts_us = 0;
  /// The result of the latest `complete` call: the checks start after it.
  std::optional<int64_t> complete_result_us;
  /// (phase index, attempt) -> phase_start time.
  std::map<std::pair<uint32_t, uint32_t>, int64_t> open_phases;
};

run_fold::run_fold(std::string top_run_id) {
  facts_.run_id = std::move(top_run_id);
}

run_fold::~run_fold() = default;
run_fold::run_fold(run_fold&&) noexcept = default;
run_fold& run_fold::operator=(run_fold&&) noexcept = default;

void run_fold::add(const event& ev) {
  auto& r = runs_[ev.run_id];
  apply(r.state, ev);
  bool top = ev.run_id == facts_.run_id;
  if (auto* x = std::get_if<run_start>(&ev.body); x != nullptr && top) {
    facts_.start_us = ev.ts_us;
    facts_.tenant = x->tenant;
    facts_.agent = x->agent;
  } else if (auto* x = std::get_if<completion>(&ev.body); x != nullptr && top) {
    facts_.end_us = ev.ts_us;
    facts_.status = x->status;
  } else if (auto* x = std::get_if<phase_start>(&ev.body)) {
    r.open_phases[{x->phase, x->attempt}] = ev.ts_us;
  } else if (std::holds_alternative<gate_pass>(ev.body)
             || std::holds_alternative<gate_fail>(ev.body)) {
    bool passed = std::holds_alternative<gate_pass>(ev.body);
    auto& g = passed ? static_cast<const gate_outcome&>(std::get<gate_pass>(ev.body))
                     : static_cast<const gate_outcome&>(std::get<gate_fail>(ev.body));
    auto open = r.open_phases.find({g.phase, g.attempt});
    if (open != r.open_phases.end()) {
      facts_.phases.push_back({g.name, ev.ts_us - open->second, passed});
      r.open_phases.erase(open);
    }
  } else if (auto* x = std::get_if<verification>(&ev.body)) {
    auto from = r.complete_result_us.value_or(r.last_ts_us);
    facts_.verifications.push_back({verification_tier(*x), ev.ts_us - from, x->passed});
    r.complete_result_us.reset();
  } else if (auto* x = std::get_if<tool_result>(&ev.body); x != nullptr && x->name == complete_tool) {
    r.complete_result_us = ev.ts_us;
  } else if (std::holds_alternative<approval_request>(ev.body)) {
    ++facts_.approvals;
  } else if (auto* x = std::get_if<approval_decision>(&ev.body)) {
    if (x->by == "timeout")
      ++facts_.approvals_timed_out;
    else if (x->approved)
      ++facts_.approvals_granted;
    else
      ++facts_.approvals_denied;
  } else if (auto* x = std::get_if<error_event>(&ev.body)) {
    if (x->code == error_kind::out_of_scope)
      ++facts_.out_of_scope;
  }
  r.last_ts_us = ev.ts_us;
}

run_facts run_fold::facts() const {
  auto f = facts_;
  f.runs = static_cast<uint32_t>(runs_.size());
  for (auto& [id, r] : runs_) {
    auto& k = r.state.totals;
    f.turns += k.turns;
    f.model_calls += k.model_calls;
    f.tool_calls += k.tool_calls;
    f.parse_failures += k.parse_failures;
    f.retries += k.retries;
    f.denials += k.denials;
    f.input_tokens += k.input_tokens;
    f.output_tokens += k.output_tokens;
    f.cost_micro_usd += k.cost_micro_usd;
  }
  return f;
}

} // namespace troupe::report
