// kill -9 of `troupe serve` under load, repeatedly: every accepted job ends
// exactly once (none lost, none run twice), clients that retry with their
// Idempotency-Key get the job they were promised, and an event stream
// resumed with Last-Event-ID across a crash sees every event once.

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "persistence/job_store.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::serve_client;
using troupe::test::serve_fixture;
using troupe::test::sse_event;
using namespace std::chrono_literals;

namespace {

// Submits jobs with unique Idempotency-Keys until told to stop; a call that
// got no answer (the server died) is retried with the same key, as a client
// that must not lose or double its work does.
struct submitter {
  std::mutex mu;
  std::map<std::string, std::string> job_of_key; // 202s
  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  std::string base;

  void run(const std::string& key, std::function<std::string()> base_now) {
    std::string pending;
    while (!stop) {
      if (pending.empty())
        pending = "k-" + std::to_string(next++);
      serve_client c{base_now()};
      auto r = c.post("/v1/runs", key, R"({"scenario":"quick","task":"load"})",
                      {"Idempotency-Key: " + pending});
      if (r.status == 202) {
        std::lock_guard<std::mutex> guard{mu};
        auto id = json::parse(r.body)["job_id"].get<std::string>();
        auto [it, fresh] = job_of_key.emplace(pending, id);
        BOOST_CHECK_MESSAGE(fresh || it->second == id,
                            "key " << pending << " got two jobs: " << it->second << ", " << id);
        pending.clear();
      } else if (r.status != 0 && r.status != 429 && r.status != 503) {
        BOOST_ERROR("submit: " << r.status << " " << r.body);
        pending.clear();
      } else {
        std::this_thread::sleep_for(10ms); // the server is restarting
      }
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(kill_9_under_load_loses_and_doubles_nothing) {
  serve_fixture f({"--concurrency", "4"});
  auto key = f.alpha["submitter"];
  std::mutex base_mu;
  std::string base = f.server->base();
  auto base_now = [&] {
    std::lock_guard<std::mutex> guard{base_mu};
    return base;
  };
  submitter load;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&] { load.run(key, base_now); });
  std::mt19937 rng{20261207};
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds{200 + rng() % 600});
    BOOST_TEST_MESSAGE("round " << round << ": kill -9 with " << load.job_of_key.size()
                                << " jobs accepted");
    f.server->signal(SIGKILL);
    f.server->start();
    std::lock_guard<std::mutex> guard{base_mu};
    base = f.server->base();
  }
  std::this_thread::sleep_for(300ms);
  load.stop = true;
  for (auto& t : clients)
    t.join();
  f.client = std::make_unique<serve_client>(f.server->base());
  std::set<std::string> jobs;
  for (auto& [k, id] : load.job_of_key)
    jobs.insert(id);
  BOOST_TEST(jobs.size() == load.job_of_key.size()); // one job per key
  BOOST_TEST_MESSAGE(jobs.size() << " jobs accepted over " << rounds << " crashes");
  BOOST_REQUIRE(jobs.size() > 20u);
  for (auto& id : jobs) {
    auto done = f.final_job(key, id);
    BOOST_TEST_CONTEXT("job " << id) {
      BOOST_TEST(done["job"]["status"] == "completed");
      BOOST_TEST(done["job"]["attempts"] == 1);
      BOOST_TEST(done["run"]["run_id"] == done["job"]["run_id"]); // never a second run
    }
  }
  // The journal agrees: one run per job, each with one completion, intact.
  auto journal = troupe::persistence::store::open(f.db, troupe::persistence::open_mode::read_only);
  BOOST_REQUIRE(journal);
  auto runs = journal->list_runs();
  BOOST_REQUIRE(runs);
  BOOST_TEST(runs->size() == jobs.size());
  for (auto& run : *runs) {
    auto ends = journal->events(run.run_id, troupe::event_kind::completion);
    BOOST_REQUIRE(ends);
    BOOST_TEST(ends->size() == 1u, "run " << run.run_id << " has " << ends->size()
                                          << " completions");
  }
  auto doctor = troupe::test::run_command({TROUPE_BIN, "doctor", "--db", f.db});
  BOOST_TEST(doctor.exit_code == 0, doctor.out << doctor.err);
}

BOOST_AUTO_TEST_CASE(an_event_stream_resumes_across_a_crash_without_gap_or_duplicate) {
  serve_fixture f;
  auto op = f.alpha["operator"];
  auto run_id = f.submit(op, "gated")["run_id"].get<std::string>();
  std::vector<sse_event> before;
  f.client->stream("/v1/runs/" + run_id + "/events", op, before,
                   [](const std::vector<sse_event>& e) {
                     return !e.empty() && e.back().event == "approval_request";
                   });
  BOOST_REQUIRE(!before.empty());
  f.server->signal(SIGKILL);
  f.server->start();
  f.client = std::make_unique<serve_client>(f.server->base(), TROUPE_CONTRACT_LOG);
  nlohmann::json pending;
  for (int i = 0; i < 300; ++i) {
    pending = f.get_json("/v1/approvals", op);
    if (!pending["items"].empty())
      break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_REQUIRE_EQUAL(pending["items"].size(), 1u);
  auto call = pending["items"][0]["call_id"].get<std::string>();
  BOOST_TEST(f.client->post("/v1/approvals/" + run_id + "/" + call, op,
                            R"({"decision":"approve"})").status == 200);
  std::vector<sse_event> after;
  f.client->stream("/v1/runs/" + run_id + "/events", op, after, {},
                   {"Last-Event-ID: " + before.back().id});
  BOOST_REQUIRE(!after.empty());
  BOOST_TEST(after.back().event == "completion");
  std::vector<uint32_t> seqs;
  for (auto* part : {&before, &after})
    for (auto& e : *part)
      seqs.push_back(static_cast<uint32_t>(std::stoul(e.id)));
  for (size_t i = 0; i < seqs.size(); ++i)
    BOOST_TEST(seqs[i] == i + 1);
}

BOOST_AUTO_TEST_SUITE_END()
