// GET /metrics on a real `troupe serve`: off (404) without the token file,
// 401 without the token, and with it an exposition that promtool accepts
// and whose figures match what the test ran: jobs completed, a routed
// model's requests, latency and spend against a loopback model server, a
// policy denial, a pending approval, the journal's commits.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "test/serve/serve_client.hpp"
#include "test/serve/serve_process.hpp"
#include "test/support/model_server.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe::test;
namespace fs = std::filesystem;

namespace {

const std::string token = "metrics-token-0123456789abcdef";

/// Samples of an exposition by their full name with labels, e.g.
/// `troupe_turns_total{tenant="alpha"}`.
std::map<std::string, double> samples(const std::string& body) {
  std::map<std::string, double> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double at(const std::map<std::string, double>& s, const std::string& key) {
  auto i = s.find(key);
  BOOST_TEST_INFO("sample " << key);
  BOOST_CHECK(i != s.end());
  return i == s.end() ? -1 : i->second;
}

std::string routed_scenario(int port) {
  return "[run]\nagent = \"lead\"\ntask = \"Ask the model.\"\n\n"
         "[workspace]\nroot = \"work/routed\"\n\n"
         "[endpoints.loop]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:"
         + std::to_string(port)
         + "/v1\"\nmodels = [\"m1\"]\ninput_usd_per_mtok = 10000\n\n"
           "[models.routed]\nroute = [\"loop:m1\"]\n\n"
           "[agents.lead]\nmodel = \"routed\"\ntools = [\"echo\", \"complete\"]\n";
}

nlohmann::json model_script() {
  auto call = [](const char* name, nlohmann::json args) {
    return nlohmann::json{{"tool_calls", {{{"name", name}, {"arguments", std::move(args)}}}},
                          {"usage", {{"input", 50}, {"output", 5}}}};
  };
  return {{"steps",
           {call("echo", {{"text", "hi"}}),
            call("complete", {{"status", "success"}, {"answer", "asked"}})}}};
}

struct metrics_server {
  explicit metrics_server(bool with_token) : dir("troupe-metrics") {
    fs::create_directories(dir.path / "scenarios");
    for (auto* name : {"quick.toml", "gated.toml"})
      fs::copy_file(fs::path(TROUPE_SERVE_SCENARIOS) / name, dir.path / "scenarios" / name);
    fs::copy_file(fs::path(TROUPE_METRICS_SCENARIOS) / "denied.toml",
                  dir.path / "scenarios" / "denied.toml");
    model = std::make_unique<model_server>(model_script(), dir.path.string(), "model");
    std::ofstream(dir.path / "scenarios" / "routed.toml") << routed_scenario(model->port());
    std::ofstream(dir.file("token")) << token << "\n";
    db = dir.file("serve.db");
    alpha = add_tenant(db, "alpha", {});
    beta = add_tenant(db, "beta", {});
    std::vector<std::string> extra;
    if (with_token)
      extra = {"--metrics-token-file", dir.file("token")};
    server = std::make_unique<serve_process>(db, dir.file("scenarios"), extra);
    client = std::make_unique<serve_client>(server->base());
  }

  std::string submit(const std::string& scenario, const std::string& key) {
    auto r = client->post("/v1/runs", key,
                          nlohmann::json{{"scenario", scenario}, {"task", "a task for " + scenario}}.dump());
    BOOST_REQUIRE_MESSAGE(r.status == 202, scenario << ": " << r.status << " " << r.body);
    return nlohmann::json::parse(r.body)["job_id"].get<std::string>();
  }

  http_reply scrape() { return client->get("/metrics", token); }

  temp_dir dir;
  std::unique_ptr<model_server> model;
  std::string db;
  std::map<std::string, std::string> alpha, beta; ///< keys by role
  std::unique_ptr<serve_process> server;
  std::unique_ptr<serve_client> client;
};

} // namespace

BOOST_AUTO_TEST_SUITE(serve_metrics)

BOOST_AUTO_TEST_CASE(metrics_are_off_without_the_token_file) {
  metrics_server s{false};
  auto r = s.client->get("/metrics", token);
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.body.find("--metrics-token-file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(metrics_tell_what_ran) {
  metrics_server s{true};
  BOOST_TEST(s.client->get("/metrics", "").status == 401);
  BOOST_TEST(s.client->get("/metrics", "wrong-" + token).status == 401);
  BOOST_TEST(s.client->get("/metrics", s.alpha.at("admin")).status == 401); // API keys do not open it

  std::vector<std::string> finishing;
  for (int i = 0; i < 3; ++i)
    finishing.push_back(s.submit("quick", s.alpha.at("operator")));
  finishing.push_back(s.submit("routed", s.alpha.at("operator")));
  finishing.push_back(s.submit("denied", s.alpha.at("operator")));
  // Waits for a person: a pending approval and a running job, of tenant beta.
  s.submit("gated", s.beta.at("operator"));
  for (auto& id : finishing) {
    auto body = nlohmann::json::parse(wait_final(*s.client, s.alpha.at("viewer"), id));
    BOOST_TEST_INFO("job " << id << ": " << body.dump());
    BOOST_TEST(body["job"]["status"] == "completed");
  }

  // The fold follows the journal's committed events a poll behind: wait for
  // the figures to catch up, then read them all from one scrape.
  std::string key_finished = "troupe_runs_finished_total{tenant=\"alpha\",status=\"completed\"}";
  std::string key_pending = "troupe_approvals_pending";
  std::string key_asked = "troupe_tool_calls_total{tool=\"write_file\",decision=\"ask\"}";
  http_reply r;
  std::map<std::string, double> m;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  do {
    r = s.scrape();
    BOOST_REQUIRE(r.status == 200);
    m = samples(r.body);
  } while ((m[key_finished] < 5 || m[key_pending] < 1 || m[key_asked] < 1)
           && std::chrono::steady_clock::now() < until);

  BOOST_TEST(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  BOOST_TEST(at(m, key_finished) == 5.0);
  BOOST_TEST(at(m, "troupe_jobs_ended_total{tenant=\"alpha\",status=\"completed\"}") == 5.0);
  BOOST_TEST(at(m, "troupe_runs_started_total{tenant=\"alpha\"}") == 5.0);
  BOOST_TEST(at(m, "troupe_runs_started_total{tenant=\"beta\"}") == 1.0);
  BOOST_TEST(at(m, "troupe_runs_running") == 1.0);
  BOOST_TEST(at(m, "troupe_queue_depth{priority=\"normal\"}") == 0.0);
  BOOST_TEST(at(m, "troupe_queue_wait_seconds_count{priority=\"normal\"}") == 6.0);
  BOOST_TEST(at(m, "troupe_run_duration_seconds_count{priority=\"normal\"}") == 5.0);
  // quick: 2 turns each; routed: 2; denied: 2; gated (beta): 1 so far.
  BOOST_TEST(at(m, "troupe_turns_total{tenant=\"alpha\"}") == 10.0);
  BOOST_TEST(at(m, "troupe_turns_total{tenant=\"beta\"}") == 1.0);

  // The routed model: two requests answered, both timed, priced.
  BOOST_TEST(at(m, "troupe_model_requests_total{endpoint=\"loop\",outcome=\"answered\"}") == 2.0);
  BOOST_TEST(at(m, "troupe_model_latency_seconds_count{endpoint=\"loop\"}") == 2.0);
  BOOST_TEST(at(m, "troupe_model_latency_seconds_bucket{endpoint=\"loop\",le=\"+Inf\"}") == 2.0);
  BOOST_TEST(at(m, "troupe_model_input_tokens_total{tenant=\"alpha\",endpoint=\"loop\"}") == 100.0);
  BOOST_TEST(at(m, "troupe_model_output_tokens_total{tenant=\"alpha\",endpoint=\"loop\"}") == 10.0);
  BOOST_TEST(at(m, "troupe_model_cost_usd_total{tenant=\"alpha\",endpoint=\"loop\"}") == 1.0,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(at(m, "troupe_model_input_tokens_total{tenant=\"alpha\",endpoint=\"script\"}")
             == 680.0); // three quick runs, 100 + 120 each; denied, 10 + 10
  BOOST_TEST(at(m, "troupe_endpoint_breaker_state{endpoint=\"loop\",model=\"m1\"}") == 0.0);

  // The denial and the approval.
  BOOST_TEST(at(m, "troupe_tool_calls_total{tool=\"write_file\",decision=\"deny\"}") == 1.0);
  BOOST_TEST(at(m, "troupe_tool_calls_total{tool=\"write_file\",decision=\"ask\"}") == 1.0);
  BOOST_TEST(at(m, "troupe_tool_calls_total{tool=\"echo\",decision=\"allow\"}") == 4.0);
  BOOST_TEST(at(m, "troupe_denials_total{tenant=\"alpha\",tool=\"write_file\"}") == 1.0);
  BOOST_TEST(at(m, key_pending) == 1.0);
  BOOST_TEST(at(m, "troupe_approvals_oldest_age_seconds") > 0.0);

  // The journal committed what the runs wrote.
  BOOST_TEST(at(m, "troupe_journal_commit_latency_seconds_count") > 0.0);
  BOOST_TEST(at(m, "troupe_journal_batch_size_sum") >= at(m, "troupe_journal_commit_latency_seconds_count"));
  BOOST_TEST(at(m, "troupe_journal_events_accepted_total") > 0.0);
  BOOST_TEST(at(m, "troupe_journal_durable_appends_total") > 0.0); // completions at least
  BOOST_TEST(at(m, "troupe_metrics_undecodable_events_total") == 0.0);

  // Every metric the shipped dashboard and alert rules query is exposed.
  for (auto* shipped : {TROUPE_DEPLOY "/grafana/troupe.json", TROUPE_DEPLOY "/prometheus/alerts.yml"}) {
    std::ifstream in(shipped);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_REQUIRE_MESSAGE(!text.empty(), "cannot read " << shipped);
    std::regex name("troupe_[a-z_]+");
    for (std::sregex_iterator i(text.begin(), text.end(), name), end; i != end; ++i) {
      auto base = std::regex_replace(i->str(), std::regex("_(bucket|sum|count)$"), "");
      BOOST_TEST_INFO(shipped << " queries " << i->str());
      BOOST_TEST(r.body.find("# TYPE " + base + " ") != std::string::npos);
    }
  }

  // Prometheus's own linter and parser accept the whole body.
  // Kept as a test artifact: what a scrape looks like.
  fs::create_directories(TROUPE_METRICS_ARTIFACTS);
  auto file = std::string(TROUPE_METRICS_ARTIFACTS) + "/metrics.txt";
  std::ofstream(file) << r.body;
  auto check = run_command({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"});
  BOOST_TEST_INFO(check.out << check.err);
  BOOST_TEST(check.exit_code == 0);
}

BOOST_AUTO_TEST_CASE(a_run_resumed_after_a_restart_counts_under_its_tenant) {
  metrics_server s{true};
  auto job = s.submit("gated", s.beta.at("operator"));
  // Wait until it asks: its run_start is then in the journal, before the restart.
  nlohmann::json pending;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  do {
    pending = nlohmann::json::parse(s.client->get("/v1/approvals", s.beta.at("viewer")).body);
  } while (pending["items"].empty() && std::chrono::steady_clock::now() < until);
  BOOST_REQUIRE_EQUAL(pending["items"].size(), 1u);
  BOOST_REQUIRE(s.server->signal(SIGKILL) != 0);
  s.server->start(); // a new process: its counters start at zero, it never saw the run_start
  s.client = std::make_unique<serve_client>(s.server->base());
  auto run = pending["items"][0]["run_id"].get<std::string>();
  auto call = pending["items"][0]["call_id"].get<std::string>();
  auto d = s.client->post("/v1/approvals/" + run + "/" + call, s.beta.at("operator"),
                          R"({"decision":"approve"})");
  BOOST_REQUIRE_MESSAGE(d.status == 200, d.status << " " << d.body);
  auto body = nlohmann::json::parse(wait_final(*s.client, s.beta.at("viewer"), job));
  BOOST_TEST(body["job"]["status"] == "completed");
  std::string finished = "troupe_runs_finished_total{tenant=\"beta\",status=\"completed\"}";
  std::map<std::string, double> m;
  until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  do {
    auto r = s.scrape();
    BOOST_REQUIRE(r.status == 200);
    m = samples(r.body);
  } while (m[finished] < 1 && std::chrono::steady_clock::now() < until);
  BOOST_TEST(at(m, finished) == 1.0);
  BOOST_TEST(m.count("troupe_runs_started_total{tenant=\"beta\"}") == 0u);
  BOOST_TEST(m.count("troupe_runs_finished_total{tenant=\"unknown\",status=\"completed\"}") == 0u);
  BOOST_TEST(at(m, "troupe_approvals_decided_total{decision=\"approved\"}") == 1.0);
  BOOST_TEST(at(m, "troupe_turns_total{tenant=\"beta\"}") >= 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
