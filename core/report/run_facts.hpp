#pragma once
// What one top-level run did, with its whole delegation tree, folded from the
// tree's events: the per-run facts `troupe report` and `GET /v1/kpis`
// aggregate (core/report/kpi_report.hpp). Pure: time comes from event
// timestamps only.
//
// The counters the run itself keeps (turns, model and tool calls, parse
// failures, retries, denials, tokens, cost) come from the run state machine's
// own fold (core/run_state.hpp `apply`), one state per run of the tree, so a
// report can never count differently from the `completion` event's totals.
// What that fold does not keep is counted here:
// - a team phase lasts from its phase_start to the gate_pass or gate_fail of
//   the same phase and attempt, in the same run;
// - a verification attempt lasts from the result of the `complete` call
//   before it in the same run (which started the checks; without one, the
//   event before it) to the `verification` event; its tier is the heaviest
//   check kind it ran (verification_tier);
// - approvals: approval_request events; granted, denied (by a person) and
//   timed out (by "timeout") from approval_decision;
// - out-of-scope stops: `error` events of kind out_of_scope.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schemas/event.hpp"

namespace troupe::report {

struct phase_span {
  std::string name;
  int64_t us = 0;
  bool passed = false;
};

struct verification_span {
  std::string tier; ///< verification_tier
  int64_t us = 0;
  bool passed = false;
};

struct run_facts {
  std::string run_id;
  std::string tenant;
  std::string agent;
  int64_t start_us = 0;
  std::optional<int64_t> end_us; ///< the top run's completion; none while running
  run_status status = run_status::running;
  uint32_t runs = 0; ///< in the tree, the top included
  uint32_t turns = 0;
  uint32_t model_calls = 0;
  uint32_t tool_calls = 0;
  uint32_t parse_failures = 0;
  uint32_t retries = 0;
  uint32_t denials = 0;
  uint32_t approvals = 0;
  uint32_t approvals_granted = 0;
  uint32_t approvals_denied = 0;
  uint32_t approvals_timed_out = 0;
  uint32_t out_of_scope = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t cost_micro_usd = 0;
  std::vector<phase_span> phases;              ///< in the order they ended
  std::vector<verification_span> verifications; ///< in the order they ended
};

/// The heaviest check kind among `v`'s results, by how long such a check
/// usually takes: approved_by > test_passes > command_succeeds >
/// json_matches > file_exists; "none" when it ran no known check.
[[nodiscard]] std::string verification_tier(const verification& v);

/// Folds the events of one tree. Feed each run's events in seq order; runs
/// may interleave. The top run is the one named at construction.
class run_fold {
public:
  explicit run_fold(std::string top_run_id);
  ~run_fold();
  run_fold(run_fold&&) noexcept;
  run_fold& operator=(run_fold&&) noexcept;

  void add(const event& ev);
  [[nodiscard]] run_facts facts() const;

private:
  struct per_run;
  run_facts facts_;
  std::map<std::string, per_run> runs_;
};

} // namespace troupe::report
