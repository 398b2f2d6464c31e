#include "core/report/kpi_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/jobs/utc_time.hpp"

namespace troupe::report {

namespace {

double nearest_rank(const std::vector<double>& sorted, double p) {
  auto n = sorted.size();
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return sorted[std::clamp<size_t>(rank, 1, n) - 1];
}

void count_status(kpi_figures& k, run_status s) {
  switch (s) {
    case run_status::running: ++k.running; break;
    case run_status::completed: ++k.completed; break;
    case run_status::limit_reached: ++k.limit_reached; break;
    case run_status::failed: ++k.failed; break;
    case run_status::canceled: ++k.canceled; break;
  }
}

double ratio(uint64_t num, uint64_t den, double scale) {
  return den == 0 ? 0.0 : scale * static_cast<double>(num) / static_cast<double>(den);
}

int tier_rank(const std::string& tier) {
  static const char* order[] = {"none", "file_exists", "json_matches", "command_succeeds",
                                "test_passes", "approved_by"};
  for (int i = 0; i < 6; ++i)
    if (tier == order[i])
      return i;
  return 6;
}

void add_phases(kpi_figures& k, const std::vector<run_facts>& runs) {
  std::vector<std::vector<double>> ms;
  for (auto& r : runs)
    for (auto& p : r.phases) {
      auto it = std::find_if(k.phases.begin(), k.phases.end(),
                             [&](auto& f) { return f.name == p.name; });
      if (it == k.phases.end()) {
        k.phases.push_back({p.name, 0, 0, {}});
        ms.emplace_back();
        it = k.phases.end() - 1;
      }
      ++it->attempts;
      it->failed += p.passed ? 0 : 1;
      ms[static_cast<size_t>(it - k.phases.begin())].push_back(static_cast<double>(p.us) / 1000.0);
    }
  for (size_t i = 0; i < k.phases.size(); ++i)
    k.phases[i].ms = summarize(std::move(ms[i]));
}

void add_verifications(kpi_figures& k, const std::vector<run_facts>& runs) {
  std::map<std::pair<int, std::string>, std::pair<verification_figures, std::vector<double>>> by;
  for (auto& r : runs)
    for (auto& v : r.verifications) {
      auto& [f, ms] = by[{tier_rank(v.tier), v.tier}];
      f.tier = v.tier;
      ++f.attempts;
      f.failed += v.passed ? 0 : 1;
      ms.push_back(static_cast<double>(v.us) / 1000.0);
    }
  for (auto& [key, entry] : by) {
    entry.first.ms = summarize(std::move(entry.second));
    k.verification_ms.push_back(std::move(entry.first));
  }
}

} // namespace

distribution summarize(std::vector<double> values) {
  distribution d;
  d.count = values.size();
  if (values.empty())
    return d;
  std::sort(values.begin(), values.end());
  d.p50 = nearest_rank(values, 50);
  d.p90 = nearest_rank(values, 90);
  d.max = values.back();
  return d;
}

kpi_figures aggregate(const std::vector<run_facts>& runs) {
  kpi_figures k;
  std::vector<double> run_ms, turns, model_calls;
  for (auto& r : runs) {
    ++k.runs;
    count_status(k, r.status);
    if (r.end_us) {
      ++k.finished;
      run_ms.push_back(static_cast<double>(*r.end_us - r.start_us) / 1000.0);
      turns.push_back(r.turns);
      model_calls.push_back(r.model_calls);
    }
    k.model_calls += r.model_calls;
    k.tool_calls += r.tool_calls;
    k.parse_failures += r.parse_failures;
    k.retries += r.retries;
    k.approvals += r.approvals;
    k.approvals_granted += r.approvals_granted;
    k.approvals_denied += r.approvals_denied;
    k.approvals_timed_out += r.approvals_timed_out;
    k.denials += r.denials;
    k.out_of_scope += r.out_of_scope;
    k.input_tokens += r.input_tokens;
    k.output_tokens += r.output_tokens;
    k.cost_micro_usd += r.cost_micro_usd;
  }
  k.run_ms = summarize(std::move(run_ms));
  k.turns_per_run = summarize(std::move(turns));
  k.model_calls_per_run = summarize(std::move(model_calls));
  add_phases(k, runs);
  add_verifications(k, runs);
  k.parse_failures_per_100_model_calls = ratio(k.parse_failures, k.model_calls, 100);
  k.retry_rate = ratio(k.retries, k.tool_calls + k.model_calls, 1);
  k.human_interventions = k.approvals_granted + k.approvals_denied;
  k.governance_violations = k.denials + k.out_of_scope;
  return k;
}

kpi_report make_report(const std::vector<run_facts>& runs, std::optional<int64_t> since_us,
                       std::optional<std::string> tenant, std::optional<bucket_size> bucket) {
  kpi_report rep;
  rep.since_us = since_us;
  rep.tenant = std::move(tenant);
  rep.figures = aggregate(runs);
  if (!bucket)
    return rep;
  constexpr int64_t hour_us = 3'600'000'000;
  std::map<int64_t, std::vector<run_facts>> by_start;
  for (auto& r : runs) {
    auto start = *bucket == bucket_size::day ? jobs::day_start_us(r.start_us)
                                             : r.start_us - (((r.start_us % hour_us) + hour_us) % hour_us);
    by_start[start].push_back(r);
  }
  rep.series.emplace();
  for (auto& [start, group] : by_start)
    rep.series->push_back({start, aggregate(group)});
  return rep;
}

} // namespace troupe::report
