// Server-Sent Events through the HTTP server: order, framing, the end of a
// stream, clients that leave or read too slowly, keepalives, and a thousand
// streams on one I/O thread.

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/providers/sse.hpp"
#include "test/net/server_test_support.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
namespace http = boost::beast::http;

// Opens a stream for every request and hands it to the test.
struct stream_catcher {
  handoff<std::shared_ptr<net::sse_stream>> latest;
  std::atomic<int> closes{0};
  net::header_list extra;

  net::server_handler handler() {
    return [this](net::server_request&&, net::responder r) {
      auto s = r.stream(extra);
      s->on_close([this] { closes.fetch_add(1); });
      latest.put(std::move(s));
    };
  }
};

std::vector<providers::sse_event> events_of(const std::string& body) {
  providers::sse_parser p;
  std::vector<providers::sse_event> out;
  BOOST_REQUIRE(p.feed(body, out));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_sse)

BOOST_AUTO_TEST_CASE(events_go_out_in_send_order_and_close_ends_the_response) {
  stream_catcher catcher;
  catcher.extra = {{"X-Run", "r1"}};
  auto server = start_server(test_options(), catcher.handler());
  raw_client c{server->port()};
  c.send(get_request("/v1/runs/r1/events"));
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  for (int i = 1; i <= 50; ++i)
    BOOST_REQUIRE((*s)->send(std::to_string(i), i % 2 ? "step" : "", "n=" + std::to_string(i)));
  BOOST_TEST((*s)->send("51", "end", "line one\nline two"));
  (*s)->close();
  BOOST_TEST(!(*s)->send("52", "late", "x")); // closed: refused
  BOOST_TEST((*s)->closed());

  auto r = c.read_response(); // the whole chunked body, up to the terminator
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->header(http::field::content_type) == "text/event-stream");
  BOOST_TEST(r->header(http::field::cache_control) == "no-cache");
  BOOST_TEST(r->header("X-Run") == "r1");
  BOOST_TEST(r->chunked);
  std::string want;
  for (int i = 1; i <= 50; ++i)
    want += "id: " + std::to_string(i) + "\n" + (i % 2 ? "event: step\n" : "") + "data: n="
            + std::to_string(i) + "\n\n";
  want += "id: 51\nevent: end\ndata: line one\ndata: line two\n\n";
  BOOST_TEST(r->body == want);
  auto events = events_of(r->body);
  BOOST_REQUIRE_EQUAL(events.size(), 51u);
  BOOST_TEST(events.back().data == "line one\nline two");
  BOOST_TEST(c.wait_closed(2s));
  BOOST_TEST(wait_until([&] { return catcher.closes == 1; }));
  BOOST_TEST(server->stats().streams == 0u);
}

BOOST_AUTO_TEST_CASE(sends_from_many_threads_all_arrive_each_in_its_order) {
  stream_catcher catcher;
  auto server = start_server(test_options(), catcher.handler());
  raw_client c{server->port()};
  c.send(get_request("/events"));
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  const int threads = 4, per_thread = 500;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        (*s)->send(std::to_string(t) + "." + std::to_string(i), "", std::to_string(i));
    });
  for (auto& t : senders)
    t.join();
  (*s)->close();
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  std::vector<int> next(threads, 0);
  size_t count = 0;
  size_t at = 0;
  while ((at = r->body.find("id: ", at)) != std::string::npos) {
    auto dot = r->body.find('.', at);
    int t = std::stoi(r->body.substr(at + 4, dot - at - 4));
    int i = std::stoi(r->body.substr(dot + 1));
    BOOST_REQUIRE_EQUAL(i, next[t]);
    ++next[t];
    ++count;
    at = dot;
  }
  BOOST_TEST(count == size_t(threads * per_thread));
}

BOOST_AUTO_TEST_CASE(a_client_that_goes_away_is_seen_while_nothing_is_written) {
  stream_catcher catcher;
  auto opts = test_options();
  opts.sse_keepalive = std::chrono::minutes(10); // nothing at all is written
  auto server = start_server(opts, catcher.handler());
  for (bool abortive : {false, true}) {
    raw_client c{server->port()};
    c.send(get_request("/events"));
    auto s = catcher.latest.take();
    BOOST_REQUIRE(s);
    BOOST_REQUIRE(c.read_until("\r\n\r\n")); // the response header
    auto closed = std::make_shared<handoff<bool>>(); // outlives the test if it fails
    (*s)->on_close([closed] { closed->put(true); });
    if (abortive)
      c.reset();
    else
      c.close();
    BOOST_TEST(closed->take(2s).has_value(), (abortive ? "reset" : "close"));
    BOOST_TEST(!(*s)->send("1", "", "nobody"));
    BOOST_TEST((*s)->closed());
    auto ran_at_once = std::make_shared<bool>(false);
    (*s)->on_close([ran_at_once] { *ran_at_once = true; });
    BOOST_TEST(*ran_at_once);
  }
  BOOST_TEST(catcher.closes == 2);
  BOOST_TEST(wait_until([&] { return server->stats().streams == 0; }));
}

// Sends 16 KiB events to a client that never reads, each once the one
// before is written (as a reading client would have it) or after 100 ms
// (the client has stalled), until `send` refuses; returns the bytes sent.
size_t send_until_refused(net::sse_stream& s, size_t& max_queued) {
  const std::string payload(16 * 1024, 'p');
  size_t sent = 0;
  while (s.send("", "", payload)) {
    max_queued = std::max(max_queued, s.queued_bytes());
    sent += payload.size();
    BOOST_REQUIRE_MESSAGE(sent < (256u << 20), "the stream was never closed");
    wait_until([&] { return s.queued_bytes() == 0; }, 100ms);
  }
  return sent;
}

BOOST_AUTO_TEST_CASE(a_consumer_too_slow_is_closed_at_the_queue_bound) {
  stream_catcher catcher;
  auto opts = test_options();
  opts.max_stream_queue_bytes = 64 * 1024;
  opts.write_timeout = std::chrono::minutes(1); // the bound must act, not the timeout
  auto server = start_server(opts, catcher.handler());
  raw_client c{server->port(), 4096}; // never reads
  c.send(get_request("/events"));
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  auto closed = std::make_shared<handoff<bool>>();
  (*s)->on_close([closed] { closed->put(true); });
  size_t max_queued = 0;
  size_t sent = send_until_refused(**s, max_queued);
  BOOST_TEST_MESSAGE("slow consumer: closed after " << sent / 1024 << " KiB (the kernel's "
                                                    << "buffers, then the 64 KiB queue)");
  BOOST_TEST(sent > opts.max_stream_queue_bytes); // paced events were taken until the stall
  BOOST_TEST(max_queued <= opts.max_stream_queue_bytes);
  BOOST_TEST(closed->take(5s).has_value());
  BOOST_TEST(wait_until([&] { return server->stats().connections == 0; }));
}

BOOST_AUTO_TEST_CASE(a_stalled_consumer_is_closed_at_write_timeout) {
  stream_catcher catcher;
  auto opts = test_options();
  opts.max_stream_queue_bytes = 1u << 30; // the timeout must act, not the bound
  opts.write_timeout = 300ms;
  auto server = start_server(opts, catcher.handler());
  raw_client c{server->port(), 4096};
  c.send(get_request("/events"));
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  auto closed = std::make_shared<handoff<bool>>();
  (*s)->on_close([closed] { closed->put(true); });
  // Until a write stays pending (100 ms without draining), then no more.
  const std::string payload(16 * 1024, 'p');
  for (size_t sent = 0; (*s)->queued_bytes() == 0; sent += payload.size()) {
    BOOST_REQUIRE((*s)->send("", "", payload));
    BOOST_REQUIRE(sent < (256u << 20));
    wait_until([&] { return (*s)->queued_bytes() == 0; }, 100ms);
  }
  auto stalled = std::chrono::steady_clock::now();
  BOOST_TEST(closed->take(3s).has_value());
  auto took = std::chrono::steady_clock::now() - stalled;
  BOOST_TEST((took < 1s));
  BOOST_TEST(server->stats().timed_out == 1u);
}

BOOST_AUTO_TEST_CASE(idle_streams_get_keepalive_comments_and_no_idle_timeout) {
  stream_catcher catcher;
  auto opts = test_options();
  opts.sse_keepalive = 100ms;
  opts.idle_timeout = 100ms;
  opts.header_timeout = 100ms;
  auto server = start_server(opts, catcher.handler());
  raw_client c{server->port()};
  c.send(get_request("/events"));
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  BOOST_REQUIRE(c.read_until("\r\n\r\n"));
  for (int i = 0; i < 5; ++i) { // at least 500 ms: five idle timeouts' worth
    c.clear_received();
    BOOST_REQUIRE_MESSAGE(c.read_until(": keepalive\n\n", 1s), "keepalive " << i);
  }
  BOOST_TEST(!(*s)->closed());
  BOOST_TEST(server->stats().streams == 1u);
  // An event in between postpones the next keepalive, it does not break it.
  BOOST_TEST((*s)->send("9", "", "x"));
  BOOST_TEST(c.read_until("id: 9\ndata: x\n\n"));
}

BOOST_AUTO_TEST_CASE(a_stream_to_an_http_1_0_client_is_close_delimited) {
  stream_catcher catcher;
  auto server = start_server(test_options(), catcher.handler());
  raw_client c{server->port()};
  c.send("GET /events HTTP/1.0\r\n\r\n");
  auto s = catcher.latest.take();
  BOOST_REQUIRE(s);
  (*s)->send("1", "", "a");
  (*s)->close();
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->chunked);
  BOOST_TEST(r->body == "id: 1\ndata: a\n\n");
}

BOOST_AUTO_TEST_CASE(a_responder_answers_once_whichever_way) {
  handoff<std::shared_ptr<net::sse_stream>> second;
  auto server = start_server(test_options(), [&](net::server_request&&, net::responder r) {
    auto s = r.stream();
    r.reply(net::server_response{}); // ignored
    second.put(r.stream());          // ignored: a closed stream
    s->send("1", "", "only");
    s->close();
  });
  raw_client c{server->port()};
  c.send(get_request("/events"));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->header(http::field::content_type) == "text/event-stream");
  BOOST_TEST(r->body == "id: 1\ndata: only\n\n");
  auto s2 = second.take();
  BOOST_REQUIRE(s2);
  BOOST_TEST((*s2)->closed());
  BOOST_TEST(!(*s2)->send("2", "", "x"));
}

BOOST_AUTO_TEST_SUITE_END()
