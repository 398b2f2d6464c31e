// Starting and stopping the HTTP server: listen errors, stop_accepting,
// and a graceful shutdown with a reply in flight, an idle keep-alive
// connection and an SSE stream; then one whose grace runs out.

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>

#include "net/net_errc.hpp"
#include "test/net/server_test_support.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using clock_type = std::chrono::steady_clock;
namespace http = boost::beast::http;

// /events streams; /hold hands its responder to the test; the rest is 200.
struct hold_handler {
  handoff<std::shared_ptr<net::responder>> held;
  handoff<std::shared_ptr<net::sse_stream>> stream;

  net::server_handler handler() {
    return [this](net::server_request&& req, net::responder r) {
      if (req.path == "/events")
        return stream.put(r.stream());
      if (req.path == "/hold")
        return held.put(std::make_shared<net::responder>(std::move(r)));
      net::server_response res;
      res.body = "{}";
      r.reply(std::move(res));
    };
  }
};

bool refused(uint16_t port) {
  raw_client c{port};
  return c.connect_error() == boost::asio::error::connection_refused;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_shutdown)

BOOST_AUTO_TEST_CASE(a_port_in_use_is_an_error_naming_host_and_port) {
  auto first = start_server(test_options(), [](net::server_request&&, net::responder) {});
  auto opts = test_options();
  opts.port = first->port();
  auto second = net::http_server::start(opts, [](net::server_request&&, net::responder) {});
  BOOST_REQUIRE(!second);
  BOOST_CHECK(second.error() == net::net_errc::listen_failed);
  auto text = render(second.error());
  BOOST_TEST(text.find("127.0.0.1:" + std::to_string(first->port())) != std::string::npos, text);
  BOOST_TEST(text.find("bind") != std::string::npos, text);

  opts.host = "no-such-host.invalid";
  opts.port = 0;
  auto unresolved = net::http_server::start(opts, [](net::server_request&&, net::responder) {});
  BOOST_REQUIRE(!unresolved);
  BOOST_TEST(render(unresolved.error()).find("no-such-host.invalid:0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stop_accepting_refuses_newcomers_and_serves_live_connections) {
  hold_handler h;
  auto server = start_server(test_options(), h.handler());
  raw_client live{server->port()};
  live.send(get_request("/"));
  BOOST_REQUIRE(live.read_response());
  server->stop_accepting();
  BOOST_TEST(refused(server->port()));
  live.send(get_request("/"));
  auto r = live.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->keep_alive);
}

BOOST_AUTO_TEST_CASE(graceful_shutdown_finishes_what_is_in_flight_and_closes_the_rest) {
  hold_handler h;
  auto server = start_server(test_options(), h.handler());
  raw_client idle{server->port()};
  idle.send(get_request("/"));
  BOOST_REQUIRE(idle.read_response());
  raw_client streaming{server->port()};
  streaming.send(get_request("/events"));
  auto s = h.stream.take();
  BOOST_REQUIRE(s);
  raw_client slow{server->port()};
  slow.send(get_request("/hold"));
  auto held = h.held.take();
  BOOST_REQUIRE(held);

  auto started = clock_type::now();
  auto done = std::async(std::launch::async, [&] { server->shutdown(10s); });

  BOOST_TEST(idle.wait_closed(2s)); // idle keep-alive: closed at once
  idle.close();
  (*s)->send("1", "", "last words"); // queued before the close reached it, or refused
  auto stream_end = streaming.read_response(); // the terminator came: a whole response
  BOOST_REQUIRE(stream_end);
  BOOST_TEST(stream_end->status == 200);
  BOOST_TEST(streaming.wait_closed(2s));
  streaming.close(); // (the server drains a closing connection until the client leaves)
  BOOST_TEST((*s)->closed());
  BOOST_TEST(refused(server->port()));
  BOOST_TEST((done.wait_for(0s) == std::future_status::timeout)); // waits for the held reply

  net::server_response res;
  res.body = R"({"finished":true})";
  (*held)->reply(std::move(res));
  auto r = slow.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == R"({"finished":true})");
  BOOST_TEST(r->header(http::field::connection) == "close");
  BOOST_TEST(slow.wait_closed(2s));
  slow.close();
  done.get();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started);
  BOOST_TEST(took.count() < 5000); // it did not wait out its grace (10 s)
  BOOST_TEST_MESSAGE("graceful shutdown took " << took.count() << " ms");
  BOOST_TEST(server->stats().connections == 0u);
}

BOOST_AUTO_TEST_CASE(when_the_grace_runs_out_the_rest_is_dropped) {
  hold_handler h;
  auto server = start_server(test_options(), h.handler());
  raw_client slow{server->port()};
  slow.send(get_request("/hold"));
  auto held = h.held.take();
  BOOST_REQUIRE(held);
  raw_client streaming{server->port()};
  streaming.send(get_request("/events"));
  auto s = h.stream.take();
  BOOST_REQUIRE(s);

  auto started = clock_type::now();
  server->shutdown(200ms);
  auto took = clock_type::now() - started;
  BOOST_TEST((took >= 190ms));
  BOOST_TEST((took < 2s));
  BOOST_TEST(slow.wait_closed(2s));
  BOOST_TEST(slow.received().empty()); // dropped without a reply
  BOOST_TEST((*s)->closed());
  BOOST_TEST(!(*s)->send("1", "", "after"));
  (*held)->reply(net::server_response{}); // after shutdown: ignored, no crash
  server->shutdown(1s);                   // idempotent
  server.reset();
}

BOOST_AUTO_TEST_SUITE_END()
