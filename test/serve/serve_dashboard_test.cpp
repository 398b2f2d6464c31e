// What the dashboard reads besides runs: GET /v1/tenant, /v1/queue and
// /v1/endpoints, and the dashboard's own files (content types, the
// Content-Security-Policy, ETag revalidation). The pages themselves are
// driven in Chromium by test/peers/browser/dashboard_test.mjs.

#include <chrono>
#include <functional>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::serve_fixture;
using namespace std::chrono_literals;

namespace {

// Polls `probe` until it holds; false after `timeout`.
bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout = 30s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (probe())
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return probe();
}

json pending_approvals(serve_fixture& f, const std::string& key) {
  return f.get_json("/v1/approvals", key)["items"];
}

} // namespace

BOOST_AUTO_TEST_SUITE(dashboard)

BOOST_AUTO_TEST_CASE(tenant_shows_its_quotas_and_what_is_used) {
  troupe::jobs::tenant_quota q;
  q.tokens_per_day = 100000;
  q.cost_micro_usd_per_month = 5000000;
  q.max_queued = 7;
  q.submissions_per_minute = 60;
  serve_fixture f({}, q);
  auto viewer = f.alpha["viewer"];
  auto t = f.get_json("/v1/tenant", viewer);
  BOOST_TEST(t["tenant"] == "alpha");
  BOOST_TEST(t["role"] == "viewer");
  BOOST_TEST(t["quota"]["tokens_per_day"] == 100000);
  BOOST_TEST(t["quota"]["cost_micro_usd_per_month"] == 5000000);
  BOOST_TEST(t["quota"]["max_queued"] == 7);
  BOOST_TEST(t["quota"]["submissions_per_minute"] == 60);
  BOOST_TEST(t["quota"]["max_concurrent_runs"] == 0);
  BOOST_TEST(t["used"]["tokens_today"] == 0);
  // quick spends 100 + 20 + 120 + 10 tokens.
  auto job = f.submit(f.alpha["submitter"], "quick");
  f.final_job(viewer, job["job_id"]);
  t = f.get_json("/v1/tenant", viewer);
  BOOST_TEST(t["used"]["tokens_today"] == 250);
  BOOST_TEST(t["used"]["queued"] == 0);
  BOOST_TEST(t["used"]["running"] == 0);
  // Beta's figures are its own.
  auto b = f.get_json("/v1/tenant", f.beta["viewer"]);
  BOOST_TEST(b["tenant"] == "beta");
  BOOST_TEST(b["used"]["tokens_today"] == 0);
  BOOST_TEST(f.client->get("/v1/tenant", "trp_k_nope_nope").status == 401);
}

BOOST_AUTO_TEST_CASE(queue_counts_the_tenants_jobs_per_priority) {
  troupe::jobs::tenant_quota one_at_a_time;
  one_at_a_time.max_concurrent_runs = 1;
  serve_fixture f({}, one_at_a_time);
  auto key = f.alpha["operator"];
  // The gated run holds alpha's one slot until its write is decided.
  auto gated = f.submit(key, "gated", {{"priority", "normal"}});
  BOOST_REQUIRE(eventually([&] { return !pending_approvals(f, key).empty(); }));
  f.submit(key, "quick", {{"priority", "high"}});
  f.submit(key, "quick", {{"priority", "low"}});
  f.submit(key, "quick", {{"priority", "low"}});
  f.submit(f.beta["submitter"], "quick", {{"priority", "high"}});
  auto q = f.get_json("/v1/queue", f.alpha["viewer"]);
  BOOST_TEST(q["running"] == 1);
  BOOST_TEST(q["queued"] == 3);
  BOOST_REQUIRE(q["lanes"].size() == 3u);
  BOOST_TEST(q["lanes"][0]["priority"] == "high");
  BOOST_TEST(q["lanes"][0]["queued"] == 1);
  BOOST_TEST(q["lanes"][1]["running"] == 1);
  BOOST_TEST(q["lanes"][1]["queued"] == 0);
  BOOST_TEST(q["lanes"][1]["oldest_submitted"].is_null());
  BOOST_TEST(q["lanes"][2]["queued"] == 2);
  BOOST_TEST(q["lanes"][2]["oldest_submitted"].is_string());
  BOOST_TEST(q["oldest_wait_ms"].get<int64_t>() >= 0);
  // Approving lets the rest run; the queue empties.
  for (auto& p : pending_approvals(f, key))
    f.client->post("/v1/approvals/" + p["run_id"].get<std::string>() + "/"
                     + p["call_id"].get<std::string>(),
                   key, R"({"decision":"approve"})");
  f.final_job(key, gated["job_id"]);
  BOOST_TEST(eventually([&] {
    auto now = f.get_json("/v1/queue", key);
    return now["queued"] == 0 && now["running"] == 0;
  }));
}

BOOST_AUTO_TEST_CASE(endpoints_show_health_and_an_open_breaker) {
  serve_fixture f;
  auto key = f.alpha["operator"];
  BOOST_TEST(f.get_json("/v1/endpoints", key)["items"].empty());
  auto job = f.submit(f.alpha["submitter"], "down");
  json down;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
    auto list = f.get_json("/v1/endpoints", key);
    for (auto& e : list["items"])
      if (e["endpoint"] == "down" && e["model"] == "m" && e["failures"].get<int>() >= 1) {
        down = e;
        return true;
      }
    return false;
  }), "no failed down:m in /v1/endpoints: " << f.get_json("/v1/endpoints", key).dump() << "; job "
                                               << f.get_json("/v1/runs/" + job["job_id"].get<std::string>(), key).dump());
  BOOST_TEST(down["breaker"] == "open");
  BOOST_TEST(down["error_rate"].get<double>() > 0.0);
  BOOST_TEST(down["score"].get<double>() < 1.0);
  BOOST_TEST(down["last_failure"].is_string());
  BOOST_TEST(down["latency_p50_ms"].is_null()); // no success yet
  BOOST_TEST(down["cost_micro_usd"].is_number());
  // Every tenant sees the server's endpoints and their health, but the
  // service-wide volumes and the check's error (the URL) only with an
  // operator key: they would show one tenant what the others use.
  for (auto* viewer : {&f.alpha["viewer"], &f.beta["viewer"]}) {
    auto items = f.get_json("/v1/endpoints", *viewer)["items"];
    BOOST_TEST(items.size() == f.get_json("/v1/endpoints", key)["items"].size());
    for (auto& e : items) {
      BOOST_TEST(e.contains("breaker"));
      for (auto* hidden : {"requests", "failures", "consecutive_failures", "cost_micro_usd"})
        BOOST_TEST(!e.contains(hidden), hidden << " shown to a viewer: " << e.dump());
      if (e["last_check"].is_object())
        BOOST_TEST(!e["last_check"].contains("error"));
    }
  }
}

BOOST_AUTO_TEST_CASE(dashboard_files_are_served_with_csp_and_etags) {
  serve_fixture f;
  f.client->recording = false; // not the JSON API: no part of docs/openapi.yaml
  auto page = f.client->get("/", "");
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.content_type == "text/html; charset=utf-8");
  BOOST_TEST(page.body.find("/ui/app.js") != std::string::npos);
  auto csp = page.headers["content-security-policy"];
  BOOST_TEST(csp.find("default-src 'none'") != std::string::npos);
  BOOST_TEST(csp.find("script-src 'self'") != std::string::npos);
  BOOST_TEST(csp.find("unsafe-inline") == std::string::npos);
  BOOST_TEST(page.headers["x-content-type-options"] == "nosniff");
  auto etag = page.headers["etag"];
  BOOST_REQUIRE(etag.size() > 2);
  BOOST_TEST(page.headers["cache-control"] == "no-cache");
  auto again = f.client->call("GET", "/", "", "", {"If-None-Match: " + etag});
  BOOST_TEST(again.status == 304);
  BOOST_TEST(again.body.empty());
  auto other = f.client->call("GET", "/", "", "", {"If-None-Match: \"0000\""});
  BOOST_TEST(other.status == 200);
  auto js = f.client->get("/ui/app.js", "");
  BOOST_TEST(js.status == 200);
  BOOST_TEST(js.content_type == "text/javascript; charset=utf-8");
  BOOST_TEST(js.headers["etag"] != etag);
  BOOST_TEST(f.client->get("/ui/pages/runs.js", "").status == 200);
  BOOST_TEST(f.client->get("/ui/style.css", "").content_type == "text/css; charset=utf-8");
  BOOST_TEST(f.client->get("/ui/icon.svg", "").content_type == "image/svg+xml");
  BOOST_TEST(f.client->get("/ui/missing.js", "").status == 404);
  BOOST_TEST(f.client->get("/ui/%2e%2e/CMakeLists.txt", "").status == 404);
  BOOST_TEST(f.client->get("/ui/", "").status == 404);
  BOOST_TEST(f.client->call("POST", "/", "", "{}").status == 405);
  // The API is not opened by the page's being public.
  BOOST_TEST(f.client->get("/v1/runs", "").status == 401);
}

BOOST_AUTO_TEST_SUITE_END()
