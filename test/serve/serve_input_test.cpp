// Bad input over HTTP: malformed and oversized bodies and headers, unknown
// routes and methods; and scenario files that break while the server runs.

#include <csignal>
#include <fstream>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::serve_fixture;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(input)

BOOST_AUTO_TEST_CASE(bad_bodies_get_problems_naming_what_is_wrong) {
  serve_fixture f;
  auto key = f.alpha["submitter"];
  auto problem = [&](const std::string& body, int status, const std::string& needle) {
    auto r = f.client->post("/v1/runs", key, body);
    BOOST_TEST_CONTEXT(body.substr(0, 60)) {
      BOOST_TEST(r.status == status);
      BOOST_TEST(r.content_type == "application/problem+json");
      auto p = json::parse(r.body, nullptr, false);
      BOOST_REQUIRE(!p.is_discarded());
      BOOST_TEST(p["status"] == status);
      BOOST_TEST(p["detail"].get<std::string>().find(needle) != std::string::npos,
                 p["detail"].get<std::string>() << " lacks " << needle);
    }
  };
  problem(R"({"scenario":"quick",)", 400, "line");
  problem(R"([1,2])", 400, "object");
  problem(R"({"task":"x"})", 400, "scenario");
  problem(R"({"scenario":"quick"})", 400, "task");
  problem(R"({"scenario":"quick","task":"x","colour":"red"})", 400, "colour");
  problem(R"({"scenario":"quick","task":"x","priority":"urgent"})", 400, "priority");
  problem(R"({"scenario":"quick","task":"x","deadline_ms":-5})", 400, "deadline_ms");
  problem(R"({"scenario":"../etc/passwd","task":"x"})", 400, "scenario");
  problem(R"({"scenario":"nope","task":"x"})", 422, "nope");
  problem(std::string(R"({"scenario":"quick","task":")") + std::string(2 << 20, 'a') + "\"}",
          413, "");
  auto bad_key = f.client->post("/v1/runs", key, R"({"scenario":"quick","task":"x"})",
                                {"Idempotency-Key: " + std::string(300, 'k')});
  BOOST_TEST(bad_key.status == 400);
  auto decision = f.client->post("/v1/approvals/r-1/c-1", f.alpha["operator"],
                                 R"({"decision":"maybe"})");
  BOOST_TEST(decision.status == 400);
  f.client->recording = false; // not paths of the API
  BOOST_TEST(f.client->get("/v1/nothing", key).status == 404);
  BOOST_TEST(f.client->get("/elsewhere", key).status == 404);
  auto wrong = f.client->call("DELETE", "/v1/runs", key);
  BOOST_TEST(wrong.status == 405);
  BOOST_TEST(wrong.headers["allow"] == "GET, POST");
  f.client->recording = true;
  auto events = f.client->get("/v1/runs/x/events?after=abc", key);
  BOOST_TEST(events.status == 400);
  // A header section past the server's bound.
  auto huge = f.client->call("GET", "/v1/runs", key, {}, {"X-Filler: " + std::string(40000, 'x')});
  BOOST_TEST(huge.status == 431);
  // Nothing bad reached the queue; the server still serves.
  BOOST_TEST(f.get_json("/v1/runs", key)["items"].empty());
}

BOOST_AUTO_TEST_CASE(sighup_keeps_the_last_good_version_of_a_broken_scenario) {
  serve_fixture f;
  auto key = f.alpha["submitter"];
  auto scenario = (f.dir.path / "scenarios" / "quick.toml").string();
  {
    std::ofstream out{scenario, std::ios::app};
    out << "\n[[[ this is not TOML\n";
  }
  {
    std::ifstream in{(f.dir.path / "scenarios" / "gated.toml").string()};
    std::ofstream out{(f.dir.path / "scenarios" / "gated_copy.toml").string()};
    out << in.rdbuf();
  }
  f.server->signal(SIGHUP);
  // The new file is served once the reload ran; the broken one still is, in
  // its last good version.
  int status = 0;
  for (int i = 0; i < 200 && status != 202; ++i) {
    status = f.client->post("/v1/runs", key, R"({"scenario":"gated_copy","task":"x"})").status;
    if (status != 202)
      std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(status == 202);
  auto quick = f.submit(key, "quick");
  BOOST_TEST(f.final_job(key, quick["job_id"])["job"]["status"] == "completed");
  // A file removed is no longer served after the next reload.
  std::filesystem::remove(f.dir.path / "scenarios" / "gated_copy.toml");
  f.server->signal(SIGHUP);
  for (int i = 0; i < 200 && status != 422; ++i) {
    status = f.client->post("/v1/runs", key, R"({"scenario":"gated_copy","task":"x"})").status;
    if (status != 422)
      std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(status == 422);
}

BOOST_AUTO_TEST_CASE(sigterm_drains_and_the_next_start_resumes_the_queue) {
  auto f = std::make_unique<serve_fixture>(std::vector<std::string>{"--concurrency", "1",
                                                                    "--drain-timeout", "1"});
  auto op = f->alpha["operator"];
  auto held = f->submit(op, "gated");
  auto waiting = f->submit(op, "quick", {{"priority", "high"}});
  // SIGTERM once the held run waits for its approval: a run still in flight
  // when the drain ends is canceled, not left to resume.
  auto approvals_pending = [&] {
    nlohmann::json pending;
    for (int i = 0; i < 500; ++i) {
      pending = f->get_json("/v1/approvals", op);
      if (!pending["items"].empty())
        break;
      std::this_thread::sleep_for(20ms);
    }
    return pending;
  };
  BOOST_REQUIRE_EQUAL(approvals_pending()["items"].size(), 1u);
  auto code = f->server->signal(SIGTERM);
  BOOST_TEST(code == 0);
  f->server->start();
  f->client = std::make_unique<troupe::test::serve_client>(f->server->base(), TROUPE_CONTRACT_LOG);
  // The held run resumed, still waiting for its approval and holding the
  // only slot; the queued job waits behind it until it is approved.
  BOOST_TEST(f->get_json("/v1/runs/" + waiting["job_id"].get<std::string>(), op)["job"]["status"]
             == "queued");
  auto pending = approvals_pending();
  BOOST_REQUIRE_EQUAL(pending["items"].size(), 1u);
  auto call = pending["items"][0]["call_id"].get<std::string>();
  auto d = f->client->post("/v1/approvals/" + held["run_id"].get<std::string>() + "/" + call, op,
                           R"({"decision":"approve"})");
  BOOST_TEST(d.status == 200);
  auto h = f->final_job(op, held["job_id"]);
  BOOST_TEST(h["job"]["status"] == "completed");
  BOOST_TEST(h["job"]["attempts"] == 1); // resumed, not started again
  BOOST_TEST(f->final_job(op, waiting["job_id"])["job"]["status"] == "completed");
}

BOOST_AUTO_TEST_SUITE_END()
