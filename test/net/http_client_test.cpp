// The HTTP client doing its job against a real loopback server: requests
// and replies as sent, streaming, keep-alive, pool limits, many transfers
// on one thread.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <malloc.h>

#include "net/http_client.hpp"
#include "schemas/errors.hpp"
#include "test/net/loopback_server.hpp"
#include "test/net/recorder.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;
using net::http_request;

std::unique_ptr<net::http_client> make_client(net::http_client_config cfg = {}) {
  auto client = net::http_client::start(cfg);
  BOOST_REQUIRE_MESSAGE(client, render(client));
  return std::move(*client);
}

http_request get(const loopback_server& server, const std::string& path) {
  http_request req;
  req.url = server.url(path);
  req.pool = "loopback";
  return req;
}

const std::string* header(const net::http_headers& h, const char* name) {
  return net::find_header(h, name);
}

size_t heap_in_use() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoul(line.substr(6));
  return 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_client)

BOOST_AUTO_TEST_CASE(get_and_post_carry_method_body_and_headers) {
  loopback_server server;
  server.on("/echo", [](const received_request& req) {
    std::string x_test;
    for (const auto& [n, v] : req.headers)
      if (n == "x-test")
        x_test = v;
    auto reply = plain_reply(200, req.method + "|" + req.body + "|" + x_test + "|" + req.target);
    reply.headers.emplace_back("X-Reply-Header", "Mixed Case");
    return reply;
  });
  auto client = make_client();

  auto got = std::make_shared<recorder>();
  auto req = get(server, "/echo?q=1");
  req.headers = {{"X-Test", "42"}};
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.ok(), out.message);
  BOOST_TEST(out.status == 200);
  BOOST_TEST(got->headers_calls == 1);
  BOOST_TEST(got->status == 200);
  BOOST_TEST(got->body() == "GET||42|/echo?q=1");
  BOOST_REQUIRE(header(got->headers, "x-reply-header"));
  BOOST_TEST(*header(got->headers, "x-reply-header") == "Mixed Case");
  BOOST_REQUIRE(header(out.headers, "content-type"));
  BOOST_TEST(out.body_bytes == got->body().size());
  BOOST_TEST(out.headers_us > 0u);
  BOOST_TEST(out.headers_us <= out.first_byte_us);
  BOOST_TEST(out.first_byte_us <= out.total_us);

  auto posted = std::make_shared<recorder>();
  auto post = get(server, "/echo");
  post.method = "POST";
  post.body = std::string(100000, 'p'); // large enough that libcurl would ask Expect: 100
  post.headers = {{"Content-Type", "application/json"}, {"X-Test", "post"}};
  client->submit(post, record_into(posted));
  BOOST_REQUIRE(posted->wait_done());
  BOOST_TEST(posted->outcome().ok(), posted->outcome().message);
  BOOST_TEST(posted->body() == "POST|" + post.body + "|post|/echo");
  BOOST_TEST(posted->done_count() == 1u);
}

BOOST_AUTO_TEST_CASE(a_streamed_body_arrives_as_one_on_data_per_chunk) {
  loopback_server server;
  server.on("/stream", [](const received_request&) {
    return streamed_reply({"data: 1\n\n", "data: 2\n\n", "data: 3\n\n", "data: 4\n\n"}, 20ms,
                          30ms);
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  client->submit(get(server, "/stream"), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.ok(), out.message);
  BOOST_TEST(got->chunk_count() == 4u);
  BOOST_TEST(got->body() == "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  BOOST_REQUIRE(header(out.headers, "transfer-encoding"));
  // Timing: the first chunk came 20 ms after the headers, the last 90 ms.
  BOOST_TEST(out.first_byte_us >= out.headers_us + 15000);
  BOOST_TEST(out.total_us >= out.first_byte_us + 80000);
}

BOOST_AUTO_TEST_CASE(sequential_requests_reuse_one_connection) {
  loopback_server server;
  server.on("/small", [](const received_request&) { return plain_reply(200, "ok"); });
  auto client = make_client();
  for (int i = 0; i < 10; ++i) {
    auto got = std::make_shared<recorder>();
    client->submit(get(server, "/small"), record_into(got));
    BOOST_REQUIRE(got->wait_done());
    BOOST_TEST(got->outcome().ok(), got->outcome().message);
  }
  BOOST_TEST(server.stats().requests == 10u);
  BOOST_TEST(server.stats().accepted == 1u);
}

BOOST_AUTO_TEST_CASE(a_pool_runs_at_most_max_concurrency_at_once) {
  loopback_server server;
  server.on("/slow", [](const received_request&) {
    return streamed_reply({"a", "b"}, 30ms, 10ms);
  });
  done_counter counter;
  auto client = make_client();
  for (int i = 0; i < 20; ++i) {
    auto req = get(server, "/slow");
    req.pool = "four";
    req.max_concurrency = 4;
    client->submit(req, counter.callbacks());
  }
  BOOST_REQUIRE(counter.wait_for(20, 30s));
  BOOST_TEST(counter.ok == 20u);
  BOOST_TEST(server.stats().max_in_flight == 4u); // used fully, never more
  BOOST_TEST(server.stats().accepted == 4u);      // and the connections reused
  BOOST_TEST(client->pending() == 0u);
}

BOOST_AUTO_TEST_CASE(waiting_requests_start_in_submission_order) {
  loopback_server server;
  std::mutex mu;
  std::vector<std::string> order;
  server.on("/seq", [&](const received_request& req) {
    std::lock_guard<std::mutex> guard{mu};
    order.push_back(req.target.substr(req.target.find('=') + 1));
    return plain_reply(200, "ok");
  });
  done_counter counter;
  auto client = make_client();
  for (int i = 0; i < 6; ++i) {
    auto req = get(server, "/seq?i=" + std::to_string(i));
    req.pool = "one";
    req.max_concurrency = 1;
    client->submit(req, counter.callbacks());
  }
  BOOST_REQUIRE(counter.wait_for(6, 20s));
  std::lock_guard<std::mutex> guard{mu};
  BOOST_TEST(order == (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}),
             boost::test_tools::per_element());
}

// 1,000 transfers in flight on one I/O thread: they overlap (the server sees
// them at once, and the wall time is close to one delay, not 1,000), and
// each costs well under 64 KiB of memory, server side included. The delay is
// long enough that the first request is still held when the last arrives on
// a loaded machine (at 300 ms, CI once saw 999 at once: opening 1,000
// connections took longer than the first one's delay).
BOOST_AUTO_TEST_CASE(a_thousand_requests_overlap_on_one_thread) {
  constexpr size_t n = 1000;
  constexpr auto delay = 3000ms;
  loopback_server server;
  server.on("/delayed", [&](const received_request&) {
    auto reply = streamed_reply({"data: hello\n\n", "data: [DONE]\n\n"}, delay, 1ms);
    return reply;
  });
  done_counter counter;
  auto client = make_client();
  auto heap_before = heap_in_use();
  auto rss_before = rss_kib();
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    auto req = get(server, "/delayed");
    req.pool = "wide";
    req.max_concurrency = n;
    client->submit(req, counter.callbacks());
  }
  // At the peak every request is at the server, waiting out its delay.
  bool all_in = server.wait_until([&](const server_stats& s) { return s.in_flight == n; }, 30s);
  auto heap_peak = heap_in_use();
  auto rss_peak = rss_kib();
  BOOST_REQUIRE(counter.wait_for(n, 60s));
  auto wall = std::chrono::steady_clock::now() - t0;
  auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
  BOOST_TEST(counter.ok == n);
  BOOST_TEST(all_in);
  BOOST_TEST(server.stats().max_in_flight == n);
  BOOST_TEST(wall_ms < 5 * delay.count()); // one at a time: n x delay = 50 min
  auto heap_per_request = (heap_peak - std::min(heap_peak, heap_before)) / n;
  BOOST_TEST_MESSAGE("1,000 requests of " << delay.count() << " ms: wall " << wall_ms
                     << " ms; heap per request in flight (client + server) "
                     << heap_per_request << " B; RSS " << rss_before << " -> " << rss_peak
                     << " KiB (" << (rss_peak - std::min(rss_peak, rss_before)) * 1024 / n
                     << " B per request)");
  BOOST_TEST(heap_per_request < 64u * 1024);
  BOOST_TEST(client->pending() == 0u);
}

BOOST_AUTO_TEST_CASE(pools_spread_over_several_io_threads) {
  loopback_server server;
  server.on("/p", [](const received_request&) { return streamed_reply({"x"}, 5ms, 0ms); });
  done_counter counter;
  net::http_client_config cfg;
  cfg.io_threads = 3;
  auto client = make_client(cfg);
  std::vector<uint32_t> loops;
  for (int pool = 0; pool < 8; ++pool) {
    for (int i = 0; i < 5; ++i) {
      auto req = get(server, "/p");
      req.pool = "endpoint-" + std::to_string(pool);
      req.max_concurrency = 2;
      loops.push_back(client->submit(req, counter.callbacks()).loop);
    }
  }
  BOOST_REQUIRE(counter.wait_for(40, 30s));
  BOOST_TEST(counter.ok == 40u);
  std::sort(loops.begin(), loops.end());
  BOOST_TEST(loops.back() < 3u);
  auto threads_used = std::unique(loops.begin(), loops.end()) - loops.begin();
  BOOST_TEST(threads_used > 1);
}

BOOST_AUTO_TEST_CASE(an_error_status_is_a_response_not_a_transport_error) {
  loopback_server server;
  server.on("/limited", [](const received_request&) {
    auto reply = plain_reply(429, R"({"error":{"message":"slow down"}})", "application/json");
    reply.headers.emplace_back("Retry-After", "7");
    return reply;
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  client->submit(get(server, "/limited"), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.ok(), out.message);
  BOOST_TEST(out.status == 429);
  BOOST_TEST(got->status == 429);
  BOOST_REQUIRE(header(out.headers, "retry-after"));
  BOOST_TEST(*header(out.headers, "retry-after") == "7");
  BOOST_TEST(got->body() == R"({"error":{"message":"slow down"}})");
}

BOOST_AUTO_TEST_SUITE_END()
