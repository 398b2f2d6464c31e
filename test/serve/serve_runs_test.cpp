// Submitting, reading, listing, following and canceling runs over HTTP.

#include <set>

#include <boost/test/unit_test.hpp>

#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::serve_fixture;
using troupe::test::sse_event;

namespace {

std::vector<uint32_t> seqs(const std::vector<sse_event>& events) {
  std::vector<uint32_t> out;
  for (auto& e : events)
    if (!e.id.empty())
      out.push_back(static_cast<uint32_t>(std::stoul(e.id)));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(runs)

BOOST_AUTO_TEST_CASE(a_submitted_run_completes_and_is_read_back) {
  serve_fixture f;
  auto key = f.alpha["submitter"];
  auto r = f.client->post("/v1/runs", key,
                          R"({"scenario":"quick","task":"echo please","labels":["team:a"]})");
  BOOST_REQUIRE_MESSAGE(r.status == 202, r.status << " " << r.body);
  auto accepted = json::parse(r.body);
  auto run_id = accepted["run_id"].get<std::string>();
  BOOST_TEST(accepted["status"] == "queued");
  BOOST_TEST(r.headers["location"] == "/v1/runs/" + run_id);
  auto done = f.final_job(key, run_id);
  BOOST_TEST(done["job"]["status"] == "completed");
  BOOST_TEST(done["job"]["task"] == "echo please");
  BOOST_TEST(done["job"]["attempts"] == 1);
  BOOST_TEST(done["run"]["status"] == "completed");
  BOOST_TEST(done["result"]["answer"] == "echoed");
  BOOST_TEST(done["run"]["kpis"]["input_tokens"] == 220);
  // The job id names the same job.
  auto by_job = f.get_json("/v1/runs/" + accepted["job_id"].get<std::string>(), key);
  BOOST_TEST(by_job["job"]["run_id"] == run_id);
  // Listing: by label, by status.
  auto listed = f.get_json("/v1/runs?label=team:a&status=completed", key);
  BOOST_REQUIRE_EQUAL(listed["items"].size(), 1u);
  BOOST_TEST(listed["items"][0]["run_id"] == run_id);
  BOOST_TEST(listed["next_cursor"].is_null());
  BOOST_TEST(f.get_json("/v1/runs?status=failed", key)["items"].empty());
  // Its tree: one run.
  auto tree = f.get_json("/v1/runs/" + run_id + "/tree", key);
  BOOST_TEST(tree["run_id"] == run_id);
  BOOST_TEST(tree["children"].empty());
}

BOOST_AUTO_TEST_CASE(events_stream_live_and_resume_without_gap_or_duplicate) {
  serve_fixture f;
  auto key = f.alpha["viewer"];
  auto gated = f.submit(f.alpha["operator"], "gated");
  auto run_id = gated["run_id"].get<std::string>();
  // Follow it live until it asks for approval, then let it go on.
  std::vector<sse_event> first;
  auto r = f.client->stream("/v1/runs/" + run_id + "/events", key, first,
                            [](const std::vector<sse_event>& evs) {
                              for (auto& e : evs)
                                if (e.event == "approval_request" || e.event == "approval")
                                  return true;
                              return false;
                            });
  BOOST_REQUIRE_MESSAGE(!first.empty(), r.status << " " << r.body << r.error);
  BOOST_TEST(r.content_type.rfind("text/event-stream", 0) == 0);
  auto seen = seqs(first);
  for (size_t i = 0; i < seen.size(); ++i)
    BOOST_TEST(seen[i] == i + 1); // from seq 1, no gap
  auto pending = f.get_json("/v1/approvals", f.alpha["operator"]);
  BOOST_REQUIRE_EQUAL(pending["items"].size(), 1u);
  BOOST_TEST(pending["items"][0]["tool"] == "write_file");
  auto call = pending["items"][0]["call_id"].get<std::string>();
  // Another tenant sees nothing to approve and cannot decide it.
  BOOST_TEST(f.get_json("/v1/approvals", f.beta["operator"])["items"].empty());
  BOOST_TEST(f.client->post("/v1/approvals/" + run_id + "/" + call, f.beta["operator"],
                            R"({"decision":"deny"})").status == 404);
  auto d = f.client->post("/v1/approvals/" + run_id + "/" + call, f.alpha["operator"],
                          R"({"decision":"approve","reason":"fine"})");
  BOOST_REQUIRE_MESSAGE(d.status == 200, d.status << " " << d.body);
  // Resume after the last seen seq: the rest, each once, to the completion.
  std::vector<sse_event> rest;
  auto r2 = f.client->stream("/v1/runs/" + run_id + "/events", key, rest, {},
                             {"Last-Event-ID: " + std::to_string(seen.back())});
  BOOST_TEST(r2.status == 200);
  BOOST_REQUIRE(!rest.empty());
  BOOST_TEST(rest.back().event == "completion");
  auto more = seqs(rest);
  for (size_t i = 0; i < more.size(); ++i)
    BOOST_TEST(more[i] == seen.back() + i + 1);
  // The whole stream of an ended run, from the start, once more.
  std::vector<sse_event> all;
  f.client->stream("/v1/runs/" + run_id + "/events", key, all);
  BOOST_TEST(seqs(all).size() == seen.size() + more.size());
  auto data = json::parse(all.front().data);
  BOOST_TEST(data["kind"] == "run_start");
}

BOOST_AUTO_TEST_CASE(cancel_a_queued_and_a_running_job) {
  serve_fixture f({"--concurrency", "1"});
  auto op = f.alpha["operator"];
  auto running = f.submit(op, "gated");
  auto queued = f.submit(op, "quick");
  // The gated one holds the only slot until it is decided.
  auto q = f.client->post("/v1/runs/" + queued["job_id"].get<std::string>() + "/cancel", op, "");
  BOOST_REQUIRE_MESSAGE(q.status == 202, q.status << " " << q.body);
  BOOST_TEST(json::parse(q.body)["status"] == "canceled");
  std::vector<sse_event> ended;
  f.client->stream("/v1/runs/" + queued["run_id"].get<std::string>() + "/events", op, ended);
  BOOST_REQUIRE_EQUAL(ended.size(), 1u);
  BOOST_TEST(ended[0].event == "end");
  auto c = f.client->post("/v1/runs/" + running["run_id"].get<std::string>() + "/cancel", op, "");
  BOOST_TEST(c.status == 202);
  auto done = f.final_job(op, running["run_id"]);
  BOOST_TEST(done["job"]["status"] == "canceled");
  BOOST_TEST(done["run"]["status"] == "canceled");
  // A job that ended cannot be canceled again.
  auto again = f.client->post("/v1/runs/" + running["run_id"].get<std::string>() + "/cancel", op, "");
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.content_type == "application/problem+json");
}

BOOST_AUTO_TEST_CASE(idempotency_keys_return_the_same_job) {
  serve_fixture f;
  auto key = f.alpha["submitter"];
  auto a = f.submit(key, "quick", {{"task", "t1"}}, {"Idempotency-Key: order-17"});
  auto b = f.client->post("/v1/runs", key, R"({"scenario":"quick","task":"t1"})",
                          {"Idempotency-Key: order-17"});
  BOOST_REQUIRE_EQUAL(b.status, 202);
  BOOST_TEST(json::parse(b.body)["job_id"] == a["job_id"]);
  BOOST_TEST(b.headers["idempotent-replayed"] == "true");
  // The same key with another task is a client bug, not a new job.
  auto c = f.client->post("/v1/runs", key, R"({"scenario":"quick","task":"t2"})",
                          {"Idempotency-Key: order-17"});
  BOOST_TEST(c.status == 422);
  // Another tenant's same key is its own.
  auto d = f.submit(f.beta["submitter"], "quick", {{"task", "t1"}}, {"Idempotency-Key: order-17"});
  BOOST_TEST(d["job_id"] != a["job_id"]);
  auto listed = f.get_json("/v1/runs", key);
  BOOST_TEST(listed["items"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(pages_walk_every_job_once) {
  serve_fixture f;
  auto key = f.alpha["submitter"];
  std::set<std::string> submitted;
  for (int i = 0; i < 7; ++i)
    submitted.insert(f.submit(key, "quick")["job_id"].get<std::string>());
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = f.get_json("/v1/runs?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
    for (auto& j : page["items"])
      BOOST_TEST(seen.insert(j["job_id"].get<std::string>()).second);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen == submitted);
  BOOST_TEST(f.client->get("/v1/runs?limit=0", key).status == 400);
  BOOST_TEST(f.client->get("/v1/runs?limit=1001", key).status == 400);
  BOOST_TEST(f.client->get("/v1/runs?cursor=garbage", key).status == 400);
  BOOST_TEST(f.client->get("/v1/runs?status=sleepy", key).status == 400);
}

BOOST_AUTO_TEST_SUITE_END()
