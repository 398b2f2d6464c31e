// KPI reports (core/report/): nearest-rank percentiles, the per-run fold
// over a tree's events (durations, phases, verification tiers, approvals,
// denials, out-of-scope stops, and the counters the run state keeps), the
// aggregate and its series, JSON and Markdown, baseline gating, and --since.

#include <boost/test/unit_test.hpp>

#include "core/jobs/utc_time.hpp"
#include "core/report/baseline.hpp"
#include "core/report/kpi_render.hpp"
#include "core/report/kpi_report.hpp"
#include "core/report/run_facts.hpp"
#include "core/report/time_arg.hpp"
#include "schemas/errors.hpp"

using namespace troupe;
using namespace troupe::report;
using nlohmann::json;

namespace {

constexpr int64_t ms = 1000;
// 2026-12-07T10:00:00Z
const int64_t t0 = jobs::days_from_civil({2026, 12, 7}) * jobs::us_per_day + 10 * 3600 * 1'000'000LL;

struct journal_writer {
  journal_writer(std::string id, std::string parent_id, std::string root_id)
    : run_id(std::move(id)), parent(std::move(parent_id)), root(std::move(root_id)) {}
  std::string run_id, parent, root;
  uint32_t seq = 0;
  std::vector<event> out;
  void add(int64_t ts, event_body body) {
    event ev;
    ev.run_id = run_id;
    ev.parent_run_id = parent;
    ev.root_run_id = root;
    ev.seq = ++seq;
    ev.ts_us = ts;
    ev.body = std::move(body);
    out.push_back(std::move(ev));
  }
};

model_reply reply(uint32_t turn, std::vector<tool_call_ref> calls, uint64_t in, uint64_t out,
                  uint64_t cost, std::string failure = {}) {
  model_reply r;
  r.turn = turn;
  r.tool_calls = std::move(calls);
  r.tokens = {in, out};
  r.cost_micro_usd = cost;
  r.failure = std::move(failure);
  return r;
}

// A team run "T" of tenant acme with one child "T.c": known figures.
std::vector<event> team_tree(const std::string& id, int64_t start) {
  journal_writer top{id, "", id};
  run_start rs;
  rs.agent = "lead";
  rs.tenant = "acme";
  top.add(start, rs);
  top.add(start + 1 * ms, phase_start{0, "design", "architect", 1});
  top.add(start + 2 * ms, turn_start{1, turn_mode::normal});
  top.add(start + 3 * ms, model_request{1, "main", {}, 1});
  top.add(start + 4 * ms, reply(1, {{"c1", "write", "{}"}, {"c2", "shell", "{}"}}, 100, 20, 500));
  top.add(start + 5 * ms, policy_decision{"c1", decision_kind::ask, "r1", "v1", "", {}});
  top.add(start + 6 * ms, approval_request{"c1", "write", "{}", "r1", 0});
  top.add(start + 7 * ms, approval_decision{"c1", true, "alice", ""});
  top.add(start + 8 * ms, policy_decision{"c2", decision_kind::deny, "r2", "v1", "no", {}});
  top.add(start + 9 * ms, tool_call{"c1", "write", "{}"});
  top.add(start + 10 * ms, tool_result{"c1", "write", true, "ok"});
  top.add(start + 11 * ms, turn_end{1});
  top.add(start + 41 * ms, gate_fail{{0, "design", 1, "", false, ""}});
  top.add(start + 42 * ms, phase_start{0, "design", "architect", 2});
  top.add(start + 62 * ms, gate_pass{{0, "design", 2, "", false, ""}});
  top.add(start + 70 * ms, turn_start{2, turn_mode::normal});
  top.add(start + 71 * ms, model_request{2, "main", {}, 3});
  top.add(start + 72 * ms, parse_failure{"c3", "write", "{", "bad json"});
  top.add(start + 73 * ms, reply(2, {{"c4", "complete", "{}"}}, 50, 10, 300));
  top.add(start + 74 * ms, tool_call{"c4", "complete", "{}"});
  top.add(start + 75 * ms, tool_result{"c4", "complete", true, "{}"});
  top.add(start + 80 * ms, checkpoint{2, {}, "", std::nullopt}); // not when the checks began
  verification v;
  v.attempt = 1;
  v.passed = true;
  v.results = {{"exists", "file_exists", true, "", "", 0, 0}, {"tests", "test_passes", true, "", "", 0, 0}};
  top.add(start + 95 * ms, v);
  top.add(start + 96 * ms, error_event{error_kind::out_of_scope, "outside", "c4"});
  top.add(start + 100 * ms, completion{run_status::completed, "", "", "", {}});

  journal_writer child{id + ".c", id, id};
  run_start cs;
  cs.agent = "worker";
  cs.tenant = "acme";
  child.add(start + 20 * ms, cs);
  child.add(start + 21 * ms, turn_start{1, turn_mode::normal});
  child.add(start + 22 * ms, model_request{1, "main", {}, 1});
  child.add(start + 23 * ms, reply(1, {}, 7, 3, 11, "timeout"));
  child.add(start + 24 * ms, route_attempt{1, 2, "main", "", "", "", {}, {}, 0, "", false, "answered", 0, 0, 0});
  child.add(start + 25 * ms, completion{run_status::failed, "", "", "", {}});

  // Interleaved as a live journal would hold them.
  auto out = top.out;
  out.insert(out.begin() + 13, child.out.begin(), child.out.end());
  return out;
}

run_facts fold(const std::vector<event>& events, const std::string& top) {
  run_fold f{top};
  for (auto& ev : events)
    f.add(ev);
  return f.facts();
}

run_facts finished(int64_t start, int64_t dur_ms, uint32_t model_calls, run_status st = run_status::completed) {
  run_facts f;
  f.run_id = "r" + std::to_string(start);
  f.start_us = start;
  f.end_us = start + dur_ms * ms;
  f.status = st;
  f.model_calls = model_calls;
  f.turns = model_calls;
  return f;
}

} // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(percentiles_are_nearest_rank) {
  auto d = summarize({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
  BOOST_TEST(d.count == 10u);
  BOOST_TEST(*d.p50 == 5);
  BOOST_TEST(*d.p90 == 9);
  BOOST_TEST(*d.max == 10);
  auto one = summarize({42});
  BOOST_TEST(*one.p50 == 42);
  BOOST_TEST(*one.p90 == 42);
  // ceil(0.9 * 11) = 10th of 11
  auto eleven = summarize({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  BOOST_TEST(*eleven.p90 == 10);
  BOOST_TEST(*eleven.p50 == 6);
  auto none = summarize({});
  BOOST_TEST(none.count == 0u);
  BOOST_TEST(!none.p50);
  BOOST_TEST(!none.max);
}

BOOST_AUTO_TEST_CASE(a_tree_folds_into_known_facts) {
  auto f = fold(team_tree("T", t0), "T");
  BOOST_TEST(f.run_id == "T");
  BOOST_TEST(f.tenant == "acme");
  BOOST_TEST(f.runs == 2u);
  BOOST_TEST(f.start_us == t0);
  BOOST_REQUIRE(f.end_us);
  BOOST_TEST(*f.end_us - f.start_us == 100 * ms);
  BOOST_TEST((f.status == run_status::completed));
  BOOST_TEST(f.turns == 3u);
  BOOST_TEST(f.model_calls == 3u);
  BOOST_TEST(f.tool_calls == 2u);
  BOOST_TEST(f.parse_failures == 1u);
  BOOST_TEST(f.retries == 1u); // the child's second route attempt
  BOOST_TEST(f.denials == 1u);
  BOOST_TEST(f.approvals == 1u);
  BOOST_TEST(f.approvals_granted == 1u);
  BOOST_TEST(f.approvals_denied == 0u);
  BOOST_TEST(f.out_of_scope == 1u);
  BOOST_TEST(f.input_tokens == 157u);
  BOOST_TEST(f.output_tokens == 33u);
  BOOST_TEST(f.cost_micro_usd == 811u);
  BOOST_REQUIRE(f.phases.size() == 2u);
  BOOST_TEST(f.phases[0].name == "design");
  BOOST_TEST(f.phases[0].us == 40 * ms);
  BOOST_TEST(!f.phases[0].passed);
  BOOST_TEST(f.phases[1].us == 20 * ms);
  BOOST_TEST(f.phases[1].passed);
  BOOST_REQUIRE(f.verifications.size() == 1u);
  BOOST_TEST(f.verifications[0].tier == "test_passes");
  BOOST_TEST(f.verifications[0].us == 20 * ms);
}

BOOST_AUTO_TEST_CASE(a_running_tree_has_no_end) {
  auto events = team_tree("T", t0);
  events.pop_back(); // the top's completion
  auto f = fold(events, "T");
  BOOST_TEST(!f.end_us);
  BOOST_TEST((f.status == run_status::running));
  auto k = aggregate({f});
  BOOST_TEST(k.runs == 1u);
  BOOST_TEST(k.running == 1u);
  BOOST_TEST(k.finished == 0u);
  BOOST_TEST(!k.run_ms.p50);
  BOOST_TEST(k.model_calls == 3u); // totals count running runs too
}

BOOST_AUTO_TEST_CASE(aggregate_and_hourly_series) {
  std::vector<run_facts> runs;
  for (int i = 1; i <= 10; ++i)
    runs.push_back(finished(t0 + i * 60'000'000LL, i * 100, static_cast<uint32_t>(i)));
  runs.push_back(finished(t0 + 3600'000'000LL + 5, 5000, 1, run_status::failed));
  runs.push_back(fold(team_tree("T", t0 + 2 * 3600'000'000LL), "T"));
  auto rep = make_report(runs, t0, std::string{"acme"}, bucket_size::hour);
  auto& k = rep.figures;
  BOOST_TEST(k.runs == 12u);
  BOOST_TEST(k.finished == 12u);
  BOOST_TEST(k.completed == 11u);
  BOOST_TEST(k.failed == 1u);
  // 100..1000, 5000, 100: sorted 100,100,200,...,1000,5000; rank 6 and 11
  BOOST_TEST(*k.run_ms.p50 == 500);
  BOOST_TEST(*k.run_ms.p90 == 1000);
  BOOST_TEST(*k.run_ms.max == 5000);
  BOOST_TEST(k.model_calls == 55u + 1u + 3u);
  BOOST_TEST(k.parse_failures_per_100_model_calls == 100.0 / 59.0);
  BOOST_TEST(k.retry_rate == 1.0 / (59.0 + 2.0));
  BOOST_TEST(k.human_interventions == 1u);
  BOOST_TEST(k.governance_violations == 2u);
  BOOST_REQUIRE(k.phases.size() == 1u);
  BOOST_TEST(k.phases[0].attempts == 2u);
  BOOST_TEST(k.phases[0].failed == 1u);
  BOOST_TEST(*k.phases[0].ms.p90 == 40);
  BOOST_REQUIRE(k.verification_ms.size() == 1u);
  BOOST_TEST(k.verification_ms[0].tier == "test_passes");
  BOOST_REQUIRE(rep.series);
  BOOST_REQUIRE(rep.series->size() == 3u);
  BOOST_TEST((*rep.series)[0].start_us == t0);
  BOOST_TEST((*rep.series)[0].figures.runs == 10u);
  BOOST_TEST((*rep.series)[1].start_us == t0 + 3600'000'000LL);
  BOOST_TEST((*rep.series)[2].figures.runs == 1u);
  auto daily = make_report(runs, std::nullopt, std::nullopt, bucket_size::day);
  BOOST_REQUIRE(daily.series->size() == 1u);
  BOOST_TEST((*daily.series)[0].start_us == t0 - 10 * 3600'000'000LL);
}

BOOST_AUTO_TEST_CASE(json_and_markdown) {
  auto rep = make_report({fold(team_tree("T", t0), "T")}, t0, std::string{"a|b\nc"}, bucket_size::day);
  auto j = to_json(rep);
  BOOST_TEST(j["since"] == "2026-12-07T10:00:00.000000Z");
  BOOST_TEST(j["tenant"] == "a|b\nc");
  BOOST_TEST(j["run_ms"]["p50"] == 100.0);
  BOOST_TEST(j["statuses"]["completed"] == 1);
  BOOST_TEST(j["phases"][0]["name"] == "design");
  BOOST_TEST(j["series"][0]["start"] == "2026-12-07T00:00:00.000000Z");
  BOOST_TEST(j["series"][0]["cost_micro_usd"] == 811);
  BOOST_TEST(!check_report_json(j, "x"));
  auto empty = to_json(make_report({}, std::nullopt, std::nullopt));
  BOOST_TEST(empty["run_ms"]["p50"].is_null());
  BOOST_TEST(empty["since"].is_null());
  BOOST_TEST(!empty.contains("series"));
  auto md = to_markdown(rep);
  BOOST_TEST(md.find("| time (ms) | 100 | 100 | 100 | 1 |") != std::string::npos);
  BOOST_TEST(md.find("- tenant: a\\|b?c\n") != std::string::npos);
  BOOST_TEST(md.find("| design | 20 | 40 | 40 | 2 | 1 |") != std::string::npos);
  BOOST_TEST(md.find("| test_passes | 20 | 20 | 20 | 1 | 0 |") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(baseline_gates_on_thresholds_and_directions) {
  std::vector<run_facts> base_runs, cur_runs;
  for (int i = 1; i <= 10; ++i) {
    base_runs.push_back(finished(t0 + i, 1000, 4));
    cur_runs.push_back(finished(t0 + i, 1150, 4)); // +15 %
  }
  auto base = to_json(make_report(base_runs, std::nullopt, std::nullopt));
  auto cur = to_json(make_report(cur_runs, std::nullopt, std::nullopt));
  auto r = compare(base, cur, {});
  BOOST_TEST(r.regressed());
  auto find = [&](const baseline_result& res, const std::string& name) {
    for (auto& k : res.kpis)
      if (k.kpi == name)
        return k;
    BOOST_FAIL("no " + name);
    return kpi_comparison{};
  };
  BOOST_TEST(find(r, "run_ms.p50").regressed);
  BOOST_TEST(*find(r, "run_ms.p50").change_pct == 15.0);
  BOOST_TEST(!find(r, "model_calls_per_run.p50").regressed);
  BOOST_TEST(!compare(base, cur, {{"run_ms.p50", 20}, {"run_ms.p90", 20}}).regressed());
  // Faster is never a regression.
  BOOST_TEST(!compare(cur, base, {}).regressed());
  // success_rate: lower is worse.
  cur_runs[0].status = run_status::failed;
  cur_runs[1].status = run_status::failed; // 80 % completed: 20 % worse
  auto worse = to_json(make_report(cur_runs, std::nullopt, std::nullopt));
  auto s = find(compare(base, worse, {{"run_ms.p50", 50}, {"run_ms.p90", 50}}), "success_rate");
  BOOST_TEST(s.regressed);
  BOOST_TEST(!s.higher_is_worse);
  // A baseline of 0: the first denial regresses.
  cur_runs[0].status = run_status::completed;
  cur_runs[1].status = run_status::completed;
  cur_runs[0].denials = 1;
  auto denied = to_json(make_report(cur_runs, std::nullopt, std::nullopt));
  auto d = find(compare(base, denied, {{"run_ms.p50", 50}, {"run_ms.p90", 50}}), "denials_per_run");
  BOOST_TEST(d.regressed);
  BOOST_TEST(!d.change_pct);
  // Not compared when one side has no finished runs.
  auto none = to_json(make_report({}, std::nullopt, std::nullopt));
  auto n = find(compare(none, cur, {}), "run_ms.p50");
  BOOST_TEST(!n.regressed);
  BOOST_TEST(!n.baseline);
  // ...but a current report without them (a wrong --db or --since, every
  // run hung) fails the gate: its per-run KPIs are gone.
  auto gone = compare(base, none, {});
  BOOST_TEST(gone.regressed());
  BOOST_TEST(find(gone, "run_ms.p50").regressed);
  BOOST_TEST(!find(gone, "run_ms.p50").current);
  auto j = to_json(r);
  BOOST_TEST(j["regressions"].size() == 2u);
  BOOST_TEST(to_markdown(r).find("| run_ms.p50 | 1000 | 1150 | 15 | 10 | **REGRESSED** |")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(phases_are_gated_by_name) {
  auto base = to_json(make_report({fold(team_tree("T", t0), "T")}, std::nullopt, std::nullopt));
  auto events = team_tree("T", t0);
  for (auto& ev : events)
    if (std::holds_alternative<gate_pass>(ev.body))
      ev.ts_us += 100 * ms; // the second attempt takes 120 ms
  auto cur = to_json(make_report({fold(events, "T")}, std::nullopt, std::nullopt));
  bool seen = false;
  for (auto& k : compare(base, cur, {}).kpis)
    if (k.kpi == "phase.design.p90") {
      seen = true;
      BOOST_TEST(*k.baseline == 40);
      BOOST_TEST(*k.current == 120);
      BOOST_TEST(k.regressed);
    }
  BOOST_TEST(seen);
  BOOST_TEST(known_kpi("phase.design.p90"));
  BOOST_TEST(known_kpi("retry_rate"));
  BOOST_TEST(!known_kpi("phase..p90x"));
  BOOST_TEST(!known_kpi("nonsense"));
}

BOOST_AUTO_TEST_CASE(bad_baselines_are_named) {
  auto err = check_report_json(json::array(), "base.json");
  BOOST_REQUIRE(err);
  auto j = to_json(make_report({}, std::nullopt, std::nullopt));
  j.erase("retry_rate");
  err = check_report_json(j, "base.json");
  BOOST_REQUIRE(err);
  BOOST_TEST(troupe::render(err).find("base.json: not a troupe report")
             != std::string::npos);
  BOOST_TEST(troupe::render(err).find("retry_rate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(since_takes_rfc3339_or_a_duration) {
  BOOST_TEST(*parse_rfc3339("2026-12-07T10:00:00Z") == t0);
  BOOST_TEST(*parse_rfc3339("2026-12-07T12:00:00.5+02:00") == t0 + 500'000);
  BOOST_TEST(*parse_rfc3339("2026-12-07t09:30:00-00:30") == t0);
  BOOST_TEST(!parse_rfc3339("2026-02-30T00:00:00Z"));
  BOOST_TEST(!parse_rfc3339("2026-12-07T10:00:00"));
  BOOST_TEST(!parse_rfc3339("2026-12-07T10:00:00Zjunk"));
  BOOST_TEST(*parse_since("24h", t0) == t0 - 24 * 3600'000'000LL);
  BOOST_TEST(*parse_since("7d", t0) == t0 - 7 * 86400'000'000LL);
  BOOST_TEST(*parse_since("90s", t0) == t0 - 90'000'000LL);
  for (auto* bad : {"", "h", "0h", "-5h", "5y", "yesterday", "99999999999999h"}) {
    auto x = parse_since(bad, t0);
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!x);
  }
}

BOOST_AUTO_TEST_SUITE_END()
