// A thousand concurrent SSE subscribers on one `troupe serve` process: a
// gated run holds still while they connect (half follow it by run id, half
// by job id, every one with a key); once each has its approval request the
// run is approved over the API, and every stream must carry every event of
// the run exactly once, in seq order, ending with `completion`. Meanwhile
// 200 streams with another tenant's key are answered 404. The server's RSS
// per open stream is printed and bounded.
//
// The clients are net::http_client transfers (libcurl multi) on one I/O
// thread of the test: a thousand sockets, no thread per stream.

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <boost/test/unit_test.hpp>

#include "net/http_client.hpp"
#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::test::parse_sse;
using troupe::test::serve_fixture;
using troupe::test::sse_event;
using namespace std::chrono_literals;

namespace {

size_t raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

uint64_t rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6));
  return 0;
}

// One stream as it arrives; written on the client's I/O thread only, read
// after `ended` (set under the tally's lock).
struct subscriber {
  std::string body;
  std::string content_type;
  int status = 0;
  std::string error;
  bool saw_approval = false;
  bool ended = false;
};

// What all streams have reached; the test waits on it.
struct tally {
  std::mutex mu;
  std::condition_variable cv;
  size_t approval_requests = 0; ///< streams that received approval_request
  size_t ended = 0;

  template <class Pred>
  bool wait(std::chrono::milliseconds timeout, Pred pred) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, timeout, pred);
  }
};

void open_stream(troupe::net::http_client& http, const std::string& url, const std::string& key,
                 subscriber& s, tally& t) {
  troupe::net::http_request req;
  req.url = url;
  req.headers.emplace_back("Authorization", "Bearer " + key);
  req.headers.emplace_back("Accept", "text/event-stream");
  req.timeouts = {10000, 30000, 0, 120000}; // idle while the run waits: no idle limit
  req.pool = "subscribers";
  req.max_concurrency = 4096;
  troupe::net::http_callbacks cb;
  cb.on_headers = [&s](int status, const troupe::net::http_headers& h) {
    s.status = status;
    if (auto* ct = troupe::net::find_header(h, "content-type"))
      s.content_type = *ct;
    return troupe::net::http_action::proceed;
  };
  cb.on_data = [&s, &t](std::string_view chunk) {
    static const std::string marker = "event: approval_request\n";
    auto from = s.body.size() < marker.size() ? 0 : s.body.size() - marker.size();
    s.body.append(chunk);
    if (!s.saw_approval && s.body.find(marker, from) != std::string::npos) {
      s.saw_approval = true;
      std::lock_guard<std::mutex> lock{t.mu};
      ++t.approval_requests;
      t.cv.notify_all();
    }
    return troupe::net::http_action::proceed;
  };
  cb.on_done = [&s, &t](troupe::net::http_outcome o) {
    std::lock_guard<std::mutex> lock{t.mu};
    if (!o.ok())
      s.error = o.message;
    s.ended = true;
    ++t.ended;
    t.cv.notify_all();
  };
  http.submit(std::move(req), std::move(cb));
}

} // namespace

BOOST_AUTO_TEST_SUITE(fanout)

BOOST_AUTO_TEST_CASE(a_thousand_subscribers_each_see_every_event_once_in_order) {
  constexpr size_t streams = 1000, strangers = 200;
  // The server inherits the limit: raise it before the fixture starts it.
  BOOST_REQUIRE_MESSAGE(raise_fd_limit() > 2 * (streams + strangers) + 256,
                        "too few file descriptors for " << streams << " streams");
  serve_fixture f;
  auto made = f.submit(f.alpha["submitter"], "gated");
  auto run_id = made["run_id"].get<std::string>();
  auto job_id = made["job_id"].get<std::string>();
  BOOST_REQUIRE_NE(run_id, job_id);

  troupe::net::http_client_config cfg;
  cfg.max_connections = streams + strangers + 64;
  cfg.receive_buffer_bytes = 4096;
  auto http = troupe::net::http_client::start(cfg);
  BOOST_REQUIRE(http);
  tally t;
  std::vector<subscriber> subs(streams), others(strangers);
  auto rss_before = rss_kib(f.server->pid());
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < streams; ++i) {
    auto& id = i % 2 == 0 ? run_id : job_id;
    open_stream(**http, f.server->base() + "/v1/runs/" + id + "/events", f.alpha["viewer"],
                subs[i], t);
    if (i % 5 == 0) // the other tenant's, interleaved with the rest
      open_stream(**http, f.server->base() + "/v1/runs/" + (i % 2 == 0 ? run_id : job_id)
                            + "/events",
                  f.beta["viewer"], others[i / 5], t);
  }
  // Every subscriber has its approval request (or its stream ended, which
  // fails below); the strangers' replies are in.
  bool all_waiting = t.wait(30s, [&] {
    size_t ended_early = 0;
    for (auto& s : subs)
      ended_early += s.ended && !s.saw_approval ? 1 : 0;
    size_t strangers_done = 0;
    for (auto& s : others)
      strangers_done += s.ended ? 1 : 0;
    return t.approval_requests + ended_early == streams && strangers_done == strangers;
  });
  auto connected_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
  auto rss_with = rss_kib(f.server->pid());
  BOOST_REQUIRE_MESSAGE(all_waiting, "after 30 s, " << t.approval_requests << " of " << streams
                                                    << " streams had the approval request");
  BOOST_TEST(t.approval_requests == streams);
  double kib_per_stream =
    (static_cast<double>(rss_with) - static_cast<double>(rss_before)) / streams;
  BOOST_TEST_MESSAGE(streams << " SSE streams on troupe serve, all with the approval request "
                             << connected_ms << " ms after opening: server RSS " << rss_before
                             << " -> " << rss_with << " KiB, " << kib_per_stream
                             << " KiB per stream");
  // A generous bound: no per-stream megabyte buffers. ASan's shadow memory
  // and quarantine measure something else (~430 KiB per stream there).
#if !defined(__SANITIZE_ADDRESS__)
  BOOST_TEST(kib_per_stream < 256.0);
#endif

  for (size_t i = 0; i < strangers; ++i) {
    BOOST_TEST_CONTEXT("stranger " << i) {
      BOOST_TEST(others[i].status == 404);
      BOOST_TEST(others[i].content_type.rfind("application/problem+json", 0) == 0);
      BOOST_TEST(others[i].body.find("event:") == std::string::npos);
    }
  }

  auto pending = f.get_json("/v1/approvals", f.alpha["operator"]);
  BOOST_REQUIRE_EQUAL(pending["items"].size(), 1u);
  auto call = pending["items"][0]["call_id"].get<std::string>();
  auto approved = f.client->post("/v1/approvals/" + run_id + "/" + call, f.alpha["operator"],
                                 R"({"decision":"approve","reason":"fan-out test"})");
  BOOST_REQUIRE_EQUAL(approved.status, 200);
  BOOST_REQUIRE_MESSAGE(t.wait(30s, [&] { return t.ended == streams + strangers; }),
                        "after 30 s, " << t.ended << " of " << streams + strangers
                                       << " streams had ended");

  // What the run's events are: the journal's count, and a stream read after
  // the run ended (its backlog, from seq 1).
  auto run = f.get_json("/v1/runs/" + run_id, f.alpha["viewer"]);
  BOOST_TEST(run["job"]["status"] == "completed");
  std::vector<sse_event> all;
  f.client->stream("/v1/runs/" + run_id + "/events", f.alpha["viewer"], all);
  BOOST_REQUIRE(!all.empty());
  BOOST_TEST(all.size() == run["run"]["events"].get<size_t>());
  BOOST_TEST(all.back().event == "completion");
  for (size_t i = 0; i < all.size(); ++i)
    BOOST_TEST(all[i].id == std::to_string(i + 1));

  size_t identical = 0;
  for (size_t i = 0; i < streams; ++i) {
    auto& s = subs[i];
    BOOST_TEST_CONTEXT("stream " << i << " by " << (i % 2 == 0 ? "run" : "job") << " id") {
      BOOST_TEST(s.status == 200);
      BOOST_TEST(s.error.empty());
      BOOST_TEST(s.content_type.rfind("text/event-stream", 0) == 0);
      auto got = parse_sse(s.body);
      bool same = got.size() == all.size();
      for (size_t k = 0; same && k < got.size(); ++k)
        same = got[k].id == all[k].id && got[k].event == all[k].event
               && got[k].data == all[k].data;
      BOOST_TEST(same, "got " << got.size() << " events, last "
                              << (got.empty() ? std::string("none") : got.back().event)
                              << "; the run has " << all.size());
      identical += same ? 1 : 0;
    }
  }
  BOOST_TEST_MESSAGE(identical << " of " << streams << " streams carried all " << all.size()
                               << " events of the run once, in order, ending with completion");
}

BOOST_AUTO_TEST_SUITE_END()
