// GET /v1/kpis against a real `troupe serve`: the caller's tenant's runs
// only, figures known from the scripted scenarios (tokens, approvals granted
// and denied, denials), the same JSON as `troupe report --json` on the same
// journal, hourly series, and bad parameters.

#include <ctime>

#include <boost/test/unit_test.hpp>

#include "test/serve/serve_fixture.hpp"
#include "test/support/run_command.hpp"

using nlohmann::json;
using troupe::test::serve_fixture;
using troupe::test::sse_event;

namespace {

// Runs `gated` to its approval request and decides it.
void gated_run(serve_fixture& f, const std::string& decision) {
  auto run_id = f.submit(f.alpha["operator"], "gated")["run_id"].get<std::string>();
  std::vector<sse_event> seen;
  f.client->stream("/v1/runs/" + run_id + "/events", f.alpha["viewer"], seen,
                   [](const std::vector<sse_event>& evs) {
                     for (auto& e : evs)
                       if (e.event == "approval_request")
                         return true;
                     return false;
                   });
  std::string call;
  auto pending = f.get_json("/v1/approvals", f.alpha["operator"]);
  for (auto& item : pending["items"])
    if (item["run_id"] == run_id)
      call = item["call_id"].get<std::string>();
  BOOST_REQUIRE_MESSAGE(!call.empty(), "no approval for " << run_id << " after " << seen.size()
                                      << " events: " << f.get_json("/v1/approvals", f.alpha["operator"]).dump());
  auto d = f.client->post("/v1/approvals/" + run_id + "/" + call, f.alpha["operator"],
                          json{{"decision", decision}}.dump());
  BOOST_REQUIRE_MESSAGE(d.status == 200, d.status << " " << d.body);
  f.final_job(f.alpha["viewer"], run_id);
}

} // namespace

BOOST_AUTO_TEST_SUITE(kpis)

BOOST_AUTO_TEST_CASE(a_tenant_gets_the_kpis_of_its_own_runs) {
  serve_fixture f;
  for (int i = 0; i < 2; ++i) {
    auto id = f.submit(f.alpha["submitter"], "quick")["run_id"].get<std::string>();
    f.final_job(f.alpha["viewer"], id);
  }
  gated_run(f, "approve");
  gated_run(f, "deny");
  auto other = f.submit(f.beta["submitter"], "quick")["run_id"].get<std::string>();
  f.final_job(f.beta["viewer"], other);

  auto k = f.get_json("/v1/kpis", f.alpha["viewer"]);
  BOOST_TEST(k["tenant"] == "alpha");
  BOOST_TEST(k["since"].is_string());
  BOOST_TEST(k["runs"] == 4);
  BOOST_TEST(k["finished"] == 4);
  BOOST_TEST(k["statuses"]["running"] == 0);
  BOOST_TEST(k["approvals"] == 2);
  BOOST_TEST(k["approvals_granted"] == 1);
  BOOST_TEST(k["approvals_denied"] == 1);
  BOOST_TEST(k["human_interventions"] == 2);
  BOOST_TEST(k["denials"] == 1);
  BOOST_TEST(k["governance_violations"] == 1);
  BOOST_TEST(k["run_ms"]["count"] == 4);
  BOOST_TEST(k["model_calls_per_run"]["p50"].is_number());
  // Two quick runs: 220 input tokens each (the script's usage), and the
  // gated runs' own.
  auto quick_input = 2 * 220;
  BOOST_TEST(k["input_tokens"].get<int>() >= quick_input);

  auto b = f.get_json("/v1/kpis", f.beta["viewer"]);
  BOOST_TEST(b["tenant"] == "beta");
  BOOST_TEST(b["runs"] == 1);
  BOOST_TEST(b["input_tokens"] == 220);
  BOOST_TEST(b["approvals"] == 0);

  // The console's report of the same journal and tenant is the same object.
  auto cli = troupe::test::run_command(
    {TROUPE_BIN, "report", "--db", f.db, "--tenant", "alpha", "--json", "--since", "24h"});
  BOOST_REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  auto from_cli = json::parse(cli.out);
  from_cli.erase("since");
  auto from_api = k;
  from_api.erase("since");
  BOOST_TEST(from_cli == from_api, from_cli.dump() << "\n" << from_api.dump());

  // Hourly: the buckets add up to the whole.
  auto hourly = f.get_json("/v1/kpis?bucket=hour&since=2h", f.alpha["viewer"]);
  BOOST_REQUIRE(hourly["series"].is_array());
  BOOST_REQUIRE(!hourly["series"].empty());
  int runs = 0;
  for (auto& s : hourly["series"]) {
    BOOST_TEST(s["start"].get<std::string>().find(":00:00.000000Z") != std::string::npos);
    runs += s["runs"].get<int>();
  }
  BOOST_TEST(runs == 4);
  BOOST_TEST(!f.get_json("/v1/kpis", f.alpha["viewer"]).contains("series"));

  // Nothing since a time after the runs.
  auto later = f.get_json("/v1/kpis?since=2999-01-01T00:00:00Z&bucket=day", f.alpha["viewer"]);
  BOOST_TEST(later["runs"] == 0);
  BOOST_TEST(later["run_ms"]["p50"].is_null());
  BOOST_TEST(later["series"].empty());
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_no_key) {
  serve_fixture f;
  auto key = f.alpha["viewer"];
  auto r = f.client->get("/v1/kpis?since=yesterday", key);
  BOOST_TEST(r.status == 400);
  BOOST_TEST(r.body.find("yesterday") != std::string::npos);
  BOOST_TEST(f.client->get("/v1/kpis?bucket=week", key).status == 400);
  // A window past 31 days would fold all of history on every call.
  auto old = f.client->get("/v1/kpis?since=2000-01-01T00:00:00Z", key);
  BOOST_TEST(old.status == 400);
  BOOST_TEST(old.body.find("31 days") != std::string::npos);
  BOOST_TEST(f.client->get("/v1/kpis?since=30d", key).status == 200);
  // `+` in a query is a space to a form decoder; the offset still reads.
  std::time_t half_hour_ago_in_paris = std::time(nullptr) + 3600 - 1800;
  char since[32];
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S+01:00", std::gmtime(&half_hour_ago_in_paris));
  BOOST_TEST(f.client->get(std::string{"/v1/kpis?since="} + since, key).status == 200);
  BOOST_TEST(f.client->get("/v1/kpis", "").status == 401);
  auto empty = f.get_json("/v1/kpis", key);
  BOOST_TEST(empty["runs"] == 0);
  BOOST_TEST(empty["phases"].empty());
}

BOOST_AUTO_TEST_SUITE_END()
