// The job queue over HTTP: quotas, per-tenant concurrency, deadlines,
// backpressure, retries and dead letters.

#include <algorithm>
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::serve_fixture;
using troupe::test::sse_event;
using namespace std::chrono_literals;

namespace {

troupe::jobs::tenant_quota quota_of(uint32_t per_minute, uint64_t tokens_per_day,
                                    uint32_t max_concurrent = 0) {
  troupe::jobs::tenant_quota q;
  q.submissions_per_minute = per_minute;
  q.tokens_per_day = tokens_per_day;
  q.max_concurrent_runs = max_concurrent;
  return q;
}

// Approves (or denies) every pending approval of `key`'s tenant.
void decide_all(serve_fixture& f, const std::string& key, bool approve) {
  auto pending = f.get_json("/v1/approvals", key);
  for (auto& p : pending["items"])
    f.client->post("/v1/approvals/" + p["run_id"].get<std::string>() + "/"
                     + p["call_id"].get<std::string>(),
                   key, approve ? R"({"decision":"approve"})" : R"({"decision":"deny"})");
}

std::string status_of(serve_fixture& f, const std::string& key, const json& accepted) {
  return f.get_json("/v1/runs/" + accepted["job_id"].get<std::string>(), key)["job"]["status"];
}

} // namespace

BOOST_AUTO_TEST_SUITE(queue)

BOOST_AUTO_TEST_CASE(submission_rate_and_token_budget_are_enforced) {
  // alpha: 2 submissions a minute; beta: 100 tokens a day (quick spends 250).
  serve_fixture f({}, quota_of(2, 0), quota_of(0, 100));
  auto a = f.alpha["submitter"];
  f.submit(a, "quick");
  f.submit(a, "quick");
  auto third = f.client->post("/v1/runs", a, R"({"scenario":"quick","task":"x"})");
  BOOST_TEST(third.status == 429);
  BOOST_TEST(third.content_type == "application/problem+json");
  BOOST_TEST(std::stoi(third.headers["retry-after"]) >= 1);
  BOOST_TEST(json::parse(third.body)["title"].get<std::string>().find("submissions_per_minute")
             != std::string::npos);
  // Beta's first run spends past its day's budget; the next is refused 402.
  auto b = f.beta["submitter"];
  auto first = f.submit(b, "quick");
  auto done = f.final_job(b, first["run_id"]);
  BOOST_TEST(done["run"]["kpis"]["input_tokens"].get<int>() > 0);
  auto refused = f.client->post("/v1/runs", b, R"({"scenario":"quick","task":"x"})");
  BOOST_TEST(refused.status == 402);
  BOOST_TEST(json::parse(refused.body)["title"].get<std::string>().find("tokens_per_day")
             != std::string::npos);
  // Alpha is not affected by beta's budget.
  BOOST_TEST(f.client->get("/v1/runs", a).status == 200);
}

BOOST_AUTO_TEST_CASE(a_run_that_would_pass_its_tenants_budget_reaches_a_limit) {
  // quick spends 120 tokens, then 130 more: alpha's 100 a day stop it after
  // its first turn, by the run's own token limit (capped to what is left).
  serve_fixture f({}, quota_of(0, 100));
  auto key = f.alpha["submitter"];
  auto job = f.submit(key, "quick");
  auto done = f.final_job(key, job["job_id"]);
  BOOST_TEST(done["run"]["status"] == "limit_reached");
  BOOST_TEST(done["result"]["reason"] == "max_tokens");
  BOOST_TEST(done["job"]["status"] == "failed");
  // Spent: the next submission is refused until the day rolls over.
  BOOST_TEST(f.client->post("/v1/runs", key, R"({"scenario":"quick","task":"x"})").status == 402);
}

BOOST_AUTO_TEST_CASE(a_tenant_runs_at_most_its_concurrency) {
  serve_fixture f({"--concurrency", "8"}, quota_of(0, 0, 1));
  auto op = f.alpha["operator"];
  auto first = f.submit(op, "gated");
  auto second = f.submit(op, "gated");
  auto other = f.submit(f.beta["operator"], "quick"); // beta is not held up by alpha
  BOOST_TEST(f.final_job(f.beta["operator"], other["run_id"])["job"]["status"] == "completed");
  BOOST_TEST(status_of(f, op, second) == "queued");
  BOOST_TEST(status_of(f, op, first) == "running");
  // Decide the first: the second starts only then.
  for (int i = 0; i < 200 && status_of(f, op, second) == "queued"; ++i) {
    decide_all(f, op, true);
    std::this_thread::sleep_for(20ms);
  }
  auto done = f.final_job(op, first["run_id"]);
  BOOST_TEST(done["job"]["status"] == "completed");
  auto second_started = f.get_json("/v1/runs/" + second["job_id"].get<std::string>(), op);
  BOOST_TEST(second_started["job"]["started_us"].get<int64_t>()
             >= done["job"]["ended_us"].get<int64_t>());
  f.client->post("/v1/runs/" + second["run_id"].get<std::string>() + "/cancel", op, "");
}

BOOST_AUTO_TEST_CASE(a_job_past_its_deadline_before_it_started_expires) {
  serve_fixture f({"--concurrency", "1"});
  auto op = f.alpha["operator"];
  auto holder = f.submit(op, "gated");
  auto late = f.submit(op, "quick", {{"deadline_ms", 300}});
  auto done = f.final_job(op, late["job_id"]);
  BOOST_TEST(done["job"]["status"] == "expired");
  BOOST_TEST(done["run"].is_null()); // it never started
  std::vector<sse_event> evs;
  f.client->stream("/v1/runs/" + late["run_id"].get<std::string>() + "/events", op, evs);
  BOOST_REQUIRE_EQUAL(evs.size(), 1u);
  BOOST_TEST(evs[0].event == "end");
  f.client->post("/v1/runs/" + holder["run_id"].get<std::string>() + "/cancel", op, "");
}

BOOST_AUTO_TEST_CASE(a_running_job_past_its_deadline_is_marked_and_canceled) {
  serve_fixture f({"--cancel-on-breach"});
  auto op = f.alpha["operator"];
  auto slow = f.submit(op, "gated", {{"deadline_ms", 500}});
  auto done = f.final_job(op, slow["job_id"]);
  BOOST_TEST(done["job"]["status"] == "canceled");
  BOOST_TEST(done["job"]["sla_breached"] == true);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_429_while_health_stays_fast) {
  serve_fixture f({"--concurrency", "1", "--max-queued", "5"});
  auto op = f.alpha["operator"];
  f.submit(op, "gated"); // holds the slot
  int accepted = 0, refused = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = f.client->post("/v1/runs", op, R"({"scenario":"quick","task":"x"})");
    if (r.status == 202)
      ++accepted;
    if (r.status == 429) {
      ++refused;
      BOOST_TEST(r.headers.count("retry-after") == 1u);
      BOOST_TEST(json::parse(r.body)["type"] == "https://troupe.dev/problems/queue-full");
    }
  }
  BOOST_TEST(accepted == 5);
  BOOST_TEST(refused == 7);
  // Saturated: liveness, readiness and reads keep answering quickly.
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = f.client->get(i % 2 ? "/healthz" : "/v1/runs?limit=5", i % 2 ? "" : op);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                   .count());
    BOOST_TEST(r.status == 200);
  }
  std::sort(ms.begin(), ms.end());
  BOOST_TEST_MESSAGE("saturated: p50 " << ms[100] << " ms, p99 " << ms[197] << " ms");
#if !defined(__SANITIZE_ADDRESS__)
  BOOST_TEST(ms[197] < 50.0);
#endif
  BOOST_TEST(f.client->get("/readyz", "").status == 200);
}

BOOST_AUTO_TEST_CASE(infrastructure_failures_retry_then_dead_letter_and_requeue) {
  serve_fixture f({"--max-attempts", "2"});
  auto op = f.alpha["operator"];
  auto job = f.submit(op, "unreachable");
  auto done = f.final_job(op, job["job_id"]);
  BOOST_TEST(done["job"]["status"] == "dead");
  BOOST_TEST(done["job"]["attempts"] == 2);
  // Each attempt was a run of its own; the second is `<run id>-2`.
  BOOST_TEST(done["run"]["run_id"] == job["run_id"].get<std::string>() + "-2");
  BOOST_TEST(done["run"]["status"] == "limit_reached");
  // An agent's own failure is never retried: a quick run that completes is
  // attempted once (covered above); a canceled one too (runs tests).
  auto listed = troupe::test::run_command(
    {TROUPE_BIN, "jobs", "--db", f.db, "--status", "dead", "--json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  BOOST_TEST(listed.out.find(job["job_id"].get<std::string>()) != std::string::npos);
  auto requeued =
    troupe::test::run_command({TROUPE_BIN, "jobs", "requeue", job["job_id"], "--db", f.db});
  BOOST_REQUIRE_MESSAGE(requeued.exit_code == 0, requeued.err);
  // The running server picks the requeued job up (it is retried from
  // scratch: attempts start over) and it dies again the same way.
  auto again = f.final_job(op, job["job_id"]);
  BOOST_TEST(again["job"]["status"] == "dead");
  BOOST_TEST(again["job"]["attempts"] == 2);
  BOOST_TEST(again["run"]["run_id"] == job["run_id"].get<std::string>() + "-4");
  // Over the API: an operator may requeue, a submitter may not; only dead jobs.
  auto path = "/v1/runs/" + job["job_id"].get<std::string>() + "/requeue";
  BOOST_TEST(f.client->post(path, f.alpha["submitter"], "").status == 403);
  auto r = f.client->post(path, op, "");
  BOOST_REQUIRE_MESSAGE(r.status == 202, r.status << " " << r.body);
  auto status = json::parse(r.body)["status"].get<std::string>();
  BOOST_TEST((status == "queued" || status == "running")); // it may have started already
  BOOST_TEST(f.final_job(op, job["job_id"])["job"]["status"] == "dead");
  auto quick = f.submit(op, "quick");
  f.final_job(op, quick["job_id"]);
  BOOST_TEST(f.client->post("/v1/runs/" + quick["job_id"].get<std::string>() + "/requeue", op, "")
               .status
             == 409);
}

BOOST_AUTO_TEST_SUITE_END()
