#pragma once
// `troupe report`: KPIs over a journal (core/report/), optionally gated on an
// earlier report; and `troupe export RUN --format otlp`: a run's tree as
// OpenTelemetry spans.

#include <optional>
#include <string>
#include <vector>

#include "tools/troupe/commands.hpp"

namespace troupe::cli {

/// `report`: a KPI regressed past its threshold against the baseline.
inline constexpr int exit_regressed = 3;

struct report_options {
  common_options common;
  std::string since;  ///< RFC 3339 or a duration back from now; empty: all
  std::string tenant; ///< empty: every tenant
  bool markdown = false; ///< the default unless common.json
  std::string bucket; ///< hour, day, or empty
  std::string baseline; ///< a file of `troupe report --json`
  std::vector<std::string> thresholds; ///< KPI=PCT
};

/// Prints the report (Markdown, or with `--json` the JSON of GET /v1/kpis
/// plus `baseline` when one is given). Exit 0; exit_regressed when a KPI
/// regressed; 64 for a bad --since, --bucket, --threshold or baseline file
/// (named); else as report().
int kpi_report(const report_options& opts);

/// `export --format otlp`: the run's tree as one OTLP/JSON
/// ExportTraceServiceRequest, to stdout or `out`. Exit 1 for an unknown run.
int export_otlp(const common_options& opts, const std::string& run_id, const std::string& out);

} // namespace troupe::cli
