#pragma once
// KPIs over many runs: the figures of `troupe report` and `GET /v1/kpis`,
// aggregated from per-run facts (core/report/run_facts.hpp). Pure.
//
// A "run" here is a top-level run with its delegation tree. Durations and
// per-run counts describe finished runs only (a running one has no duration
// yet); the totals (calls, tokens, cost, approvals, ...) count every run.
//
// Percentiles are nearest-rank: the p-th percentile of n sorted values is
// the value at rank ceil(p/100 * n) (from 1), so it is always an observed
// value and the same input always gives the same figure.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/report/run_facts.hpp"

namespace troupe::report {

struct distribution {
  uint64_t count = 0;
  std::optional<double> p50; ///< none when count is 0
  std::optional<double> p90;
  std::optional<double> max;
};

/// Nearest-rank summary of `values` (any order).
[[nodiscard]] distribution summarize(std::vector<double> values);

struct phase_figures {
  std::string name;
  uint64_t attempts = 0;
  uint64_t failed = 0;
  distribution ms;
};

struct verification_figures {
  std::string tier;
  uint64_t attempts = 0;
  uint64_t failed = 0;
  distribution ms;
};

struct kpi_figures {
  uint64_t runs = 0;
  uint64_t finished = 0;
  uint64_t running = 0;
  uint64_t completed = 0;
  uint64_t limit_reached = 0;
  uint64_t failed = 0;
  uint64_t canceled = 0;
  distribution run_ms;
  distribution turns_per_run;
  distribution model_calls_per_run;
  std::vector<phase_figures> phases;              ///< first seen first
  std::vector<verification_figures> verification_ms; ///< lightest tier first
  uint64_t model_calls = 0;
  uint64_t tool_calls = 0;
  uint64_t parse_failures = 0;
  double parse_failures_per_100_model_calls = 0;
  uint64_t retries = 0;
  double retry_rate = 0; ///< retries per tool or model call
  uint64_t approvals = 0;
  uint64_t approvals_granted = 0;
  uint64_t approvals_denied = 0;
  uint64_t approvals_timed_out = 0;
  uint64_t human_interventions = 0; ///< approvals decided by a person
  uint64_t denials = 0;
  uint64_t out_of_scope = 0;
  uint64_t governance_violations = 0; ///< denials + out_of_scope
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t cost_micro_usd = 0;
};

struct kpi_bucket {
  int64_t start_us = 0;
  kpi_figures figures;
};

enum class bucket_size : uint8_t { hour, day };

struct kpi_report {
  std::optional<int64_t> since_us;
  std::optional<std::string> tenant;
  kpi_figures figures;
  std::optional<std::vector<kpi_bucket>> series; ///< with a bucket size
};

[[nodiscard]] kpi_figures aggregate(const std::vector<run_facts>& runs);

/// The report over `runs` (the caller has filtered them by time and tenant);
/// with `bucket`, also the series by the UTC hour or day each run started in,
/// oldest first, buckets without runs left out.
[[nodiscard]] kpi_report make_report(const std::vector<run_facts>& runs,
                                     std::optional<int64_t> since_us,
                                     std::optional<std::string> tenant,
                                     std::optional<bucket_size> bucket = std::nullopt);

} // namespace troupe::report
