#pragma once
// Gating on a baseline: compares the KPIs of a report with those of an
// earlier one (both as the JSON of core/report/kpi_render.hpp) and lists
// the regressions. Pure.
//
// Each gated KPI has a direction: for most, higher is worse (time, turns,
// calls, parse failures, retries, cost and tokens per run, denials, ...);
// for `success_rate` lower is worse. A KPI regresses when it moved the worse
// way by more than its threshold, a percentage of the baseline's value
// (default 10). A baseline value of 0 has no percentage: any move the worse
// way is a regression (a first denial, say). A KPI the baseline has and the
// current report lacks (no finished runs, a phase that no longer runs) is a
// regression too: an empty selection must not pass the gate. One only the
// current report has is not compared, and listed as such.
//
// The KPIs: run_ms.p50, run_ms.p90, turns_per_run.p50, turns_per_run.p90,
// model_calls_per_run.p50, model_calls_per_run.p90,
// parse_failures_per_100_model_calls, retry_rate, success_rate (completed
// per finished run), cost_per_run, tokens_per_run, denials_per_run,
// out_of_scope_per_run, human_interventions_per_run, and for each phase and
// verification tier of the baseline phase.NAME.p90 and
// verification.TIER.p90.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace troupe::report {

inline constexpr double default_threshold_pct = 10;

struct kpi_comparison {
  std::string kpi;
  bool higher_is_worse = true;
  std::optional<double> baseline;
  std::optional<double> current;
  double threshold_pct = default_threshold_pct;
  std::optional<double> change_pct; ///< none when not compared or the baseline is 0
  bool regressed = false;
};

struct baseline_result {
  std::vector<kpi_comparison> kpis;
  [[nodiscard]] bool regressed() const;
};

/// Checks that `doc` is a report (the fields the comparison reads, with
/// their types). `origin` names it in the error (the baseline file).
[[nodiscard]] caf::error check_report_json(const nlohmann::json& doc, const std::string& origin);

/// Whether `kpi` names a KPI compare() knows (phase.X.p90 and
/// verification.X.p90 for any X).
[[nodiscard]] bool known_kpi(const std::string& kpi);

/// Compares `current` with `baseline` (both checked by check_report_json);
/// `thresholds` overrides the percentage of the KPIs it names.
[[nodiscard]] baseline_result compare(const nlohmann::json& baseline,
                                      const nlohmann::json& current,
                                      const std::map<std::string, double>& thresholds);

[[nodiscard]] nlohmann::json to_json(const baseline_result& r);
/// A Markdown table of the comparisons, regressions marked.
[[nodiscard]] std::string to_markdown(const baseline_result& r);

} // namespace troupe::report
