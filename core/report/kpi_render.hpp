#pragma once
// A KPI report as JSON (the body of `GET /v1/kpis` and `troupe report
// --json`; docs/openapi.yaml `KpiReport`) and as Markdown for people. Pure.

#include <string>

#include <nlohmann/json.hpp>

#include "core/report/kpi_report.hpp"

namespace troupe::report {

[[nodiscard]] nlohmann::json to_json(const kpi_figures& k);
[[nodiscard]] nlohmann::json to_json(const kpi_report& r);

/// A Markdown document: the window, a table of the KPIs, then the phases and
/// verification tiers when there are any.
[[nodiscard]] std::string to_markdown(const kpi_report& r);

} // namespace troupe::report
