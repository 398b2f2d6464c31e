// `troupe report` on a journal with known content: its totals equal the
// runs table's (written from each run's completion, not by the report's
// fold), statuses, phases and out-of-scope stops as the scenarios script
// them; baseline gating exit codes; bad baselines, --since, --bucket and
// --threshold refused by name.

#include <fstream>

#include <boost/test/unit_test.hpp>

#include "test/integration/report_journal.hpp"

using nlohmann::json;
using troupe::test::contains;
using troupe::test::report_journal;
using troupe::test::run_command;

namespace {

json report_json(const report_journal& j, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{TROUPE_BIN, "report", "--db", j.db, "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = run_command(argv);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(report_cli, report_journal)

BOOST_AUTO_TEST_CASE(figures_match_the_journal) {
  auto k = report_json(*this);
  auto rows = runs();
  uint64_t model_calls = 0, tool_calls = 0, parse_failures = 0, input = 0, output = 0;
  std::vector<double> top_wall;
  for (auto& r : rows) {
    auto& kp = r["kpis"];
    model_calls += kp["model_calls"].get<uint64_t>();
    tool_calls += kp["tool_calls"].get<uint64_t>();
    parse_failures += kp["parse_failures"].get<uint64_t>();
    input += kp["input_tokens"].get<uint64_t>();
    output += kp["output_tokens"].get<uint64_t>();
    if (r["parent_run_id"] == "") // created at run_start, updated by the completion
      top_wall.push_back(static_cast<double>(r["updated_us"].get<int64_t>() - r["created_us"].get<int64_t>())
                         / 1000.0);
  }
  BOOST_TEST(k["runs"] == 4);
  BOOST_TEST(k["finished"] == 4);
  BOOST_TEST(k["statuses"]["completed"] == 2);
  BOOST_TEST(k["statuses"]["limit_reached"] == 1);
  BOOST_TEST(k["statuses"]["failed"] == 1);
  BOOST_TEST(k["model_calls"] == model_calls);
  BOOST_TEST(k["tool_calls"] == tool_calls);
  BOOST_TEST(k["parse_failures"] == parse_failures);
  BOOST_TEST(parse_failures > 0u);
  BOOST_TEST(k["input_tokens"] == input);
  BOOST_TEST(k["output_tokens"] == output);
  BOOST_TEST(k["out_of_scope"] == 1);
  BOOST_TEST(k["parse_failures_per_100_model_calls"].get<double>()
             == 100.0 * static_cast<double>(parse_failures) / static_cast<double>(model_calls));
  // run_ms: nearest rank over the four top runs' durations.
  std::sort(top_wall.begin(), top_wall.end());
  BOOST_TEST(k["run_ms"]["p50"].get<double>() == top_wall[1]);
  BOOST_TEST(k["run_ms"]["p90"].get<double>() == top_wall[3]);
  BOOST_TEST(k["run_ms"]["max"].get<double>() == top_wall[3]);
  // The team's three phases, each passed at its first attempt.
  BOOST_REQUIRE_EQUAL(k["phases"].size(), 3u);
  BOOST_TEST(k["phases"][0]["name"] == "plan");
  BOOST_TEST(k["phases"][1]["name"] == "implement");
  BOOST_TEST(k["phases"][2]["name"] == "review");
  for (auto& p : k["phases"]) {
    BOOST_TEST(p["attempts"] == 1);
    BOOST_TEST(p["ms"]["p50"].get<double>() > 0);
  }
  // Windows and tenants: nothing after now, nothing of another tenant.
  BOOST_TEST(report_json(*this, {"--since", "2999-01-01T00:00:00Z"})["runs"] == 0);
  BOOST_TEST(report_json(*this, {"--since", "1h"})["runs"] == 4);
  BOOST_TEST(report_json(*this, {"--tenant", "nobody"})["runs"] == 0);
  BOOST_TEST(report_json(*this, {"--tenant", "default"})["runs"] == 4);
  auto daily = report_json(*this, {"--bucket", "day"});
  BOOST_REQUIRE(daily["series"].is_array());
  int in_series = 0;
  for (auto& b : daily["series"])
    in_series += b["runs"].get<int>();
  BOOST_TEST(in_series == 4);
  // Markdown by default.
  auto md = run_command({TROUPE_BIN, "report", "--db", db});
  BOOST_TEST(md.exit_code == 0);
  BOOST_TEST(contains(md.out, "| time (ms) |"));
  BOOST_TEST(contains(md.out, "| implement |"));
}

BOOST_AUTO_TEST_CASE(a_baseline_gates) {
  auto base_path = file("base.json");
  auto base = report_json(*this);
  write(base_path, base.dump());
  auto same = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", base_path});
  BOOST_TEST(same.exit_code == 0, same.err);
  BOOST_TEST(contains(same.out, "## Against the baseline"));
  // A baseline whose runs were twice as fast: run_ms regressed.
  auto faster = base;
  faster["run_ms"]["p50"] = base["run_ms"]["p50"].get<double>() / 2;
  write(base_path, faster.dump());
  auto worse = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", base_path, "--json"});
  BOOST_TEST(worse.exit_code == 3);
  BOOST_TEST(contains(worse.err, "run_ms.p50"));
  auto doc = json::parse(worse.out);
  BOOST_TEST(doc["baseline"]["regressions"] == json::array({"run_ms.p50"}));
  // Allowed by a wider threshold.
  auto allowed = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", base_path,
                              "--threshold", "run_ms.p50=150"});
  BOOST_TEST(allowed.exit_code == 0, allowed.err);
  // A baseline without denials: a first one is a regression of a KPI whose
  // direction is "higher is worse", whatever the threshold says.
  auto clean = base;
  clean["out_of_scope"] = 0;
  write(base_path, clean.dump());
  auto scope = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", base_path,
                            "--threshold", "out_of_scope_per_run=1000"});
  BOOST_TEST(scope.exit_code == 3);
  BOOST_TEST(contains(scope.err, "out_of_scope_per_run"));
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  auto bad = file("bad.json");
  write(bad, "{\"runs\": ");
  auto r = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", bad});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, bad + ": not JSON"));
  write(bad, "{\"runs\": 3}");
  r = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", bad});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, bad + ": not a troupe report"));
  r = run_command({TROUPE_BIN, "report", "--db", db, "--baseline", file("missing.json")});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, "missing.json"));
  r = run_command({TROUPE_BIN, "report", "--db", db, "--since", "last tuesday"});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, "since 'last tuesday'"));
  r = run_command({TROUPE_BIN, "report", "--db", db, "--bucket", "week"});
  BOOST_TEST(r.exit_code == 64);
  r = run_command({TROUPE_BIN, "report", "--db", db, "--threshold", "speed=5"});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, "unknown KPI 'speed'"));
  r = run_command({TROUPE_BIN, "report", "--db", db, "--threshold", "retry_rate=lots"});
  BOOST_TEST(r.exit_code == 64);
  r = run_command({TROUPE_BIN, "report", "--db", db, "--json", "--md"});
  BOOST_TEST(r.exit_code == 64);
  r = run_command({TROUPE_BIN, "report", "--db", file("none.db")});
  BOOST_TEST(r.exit_code == 66);
}

BOOST_AUTO_TEST_SUITE_END()
