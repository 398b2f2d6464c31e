// The HTTP client when things go wrong, against a real loopback server:
// each timeout, refused and reset connections, cancel (the server sees the
// socket close), an aborting callback, and destroying the client with
// requests in flight.

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include "net/http_client.hpp"
#include "schemas/errors.hpp"
#include "test/net/full_listener.hpp"
#include "test/net/loopback_server.hpp"
#include "test/net/recorder.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;
using net::connection_error;
using net::http_request;
using net::timeout_kind;
using net::transport_error;

std::unique_ptr<net::http_client> make_client() {
  auto client = net::http_client::start();
  BOOST_REQUIRE_MESSAGE(client, render(client));
  return std::move(*client);
}

http_request get(const std::string& url) {
  http_request req;
  req.url = url;
  req.pool = "loopback";
  return req;
}

uint64_t ms(uint64_t us) {
  return us / 1000;
}

// Headers and one chunk, then nothing until the client goes away.
reply_plan stalled_stream() {
  auto plan = streamed_reply({"data: partial\n\n"}, 0ms, 0ms);
  plan.end = reply_end::stall;
  return plan;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_failures)

BOOST_AUTO_TEST_CASE(a_port_nobody_listens_on_is_a_refused_connection) {
  uint16_t port;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe{
      io, {boost::asio::ip::make_address_v4("127.0.0.1"), 0}};
    port = probe.local_endpoint().port();
  } // closed: nobody listens there now
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  client->submit(get("http://127.0.0.1:" + std::to_string(port) + "/"), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::connection, out.message);
  BOOST_TEST(out.connection == connection_error::refused, out.message);
  BOOST_TEST(out.status == 0);
  BOOST_TEST(got->headers_calls == 0);
  BOOST_TEST(!out.message.empty());
}

BOOST_AUTO_TEST_CASE(a_silent_address_is_a_connect_timeout) {
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get("http://10.255.255.1:81/");
  req.timeouts.connect_ms = 200;
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  // Where the address is unreachable (no route), or something answers for
  // it (an intercepting proxy), there is no silent peer to time out on.
  if (out.error == transport_error::connection || out.ok()) {
    BOOST_TEST_MESSAGE("skipped: 10.255.255.1 is not silent here ("
                       << (out.ok() ? "status " + std::to_string(out.status) : out.message)
                       << ")");
    return;
  }
  BOOST_TEST(out.error == transport_error::timeout, out.message);
  BOOST_TEST(out.timeout == timeout_kind::connect, out.message);
  BOOST_TEST(ms(out.total_us) >= 190u);
  BOOST_TEST(ms(out.total_us) < 3000u);
}

BOOST_AUTO_TEST_CASE(a_full_accept_queue_is_a_connect_timeout) {
  full_listener listener;
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get("http://127.0.0.1:" + std::to_string(listener.port) + "/");
  req.timeouts.connect_ms = 200;
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::timeout, out.message);
  BOOST_TEST(out.timeout == timeout_kind::connect, out.message);
  BOOST_TEST(ms(out.total_us) >= 190u);
  BOOST_TEST(ms(out.total_us) < 3000u);
}

BOOST_AUTO_TEST_CASE(headers_that_never_come_are_a_first_byte_timeout) {
  loopback_server server;
  server.on("/mute", [](const received_request&) {
    auto plan = plain_reply(200, "late");
    plan.headers_delay = 20s;
    return plan;
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get(server.url("/mute"));
  req.timeouts.first_byte_ms = 200;
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::timeout, out.message);
  BOOST_TEST(out.timeout == timeout_kind::first_byte);
  BOOST_TEST(ms(out.total_us) >= 200u);
  BOOST_TEST(ms(out.total_us) < 3000u);
  BOOST_TEST(got->headers_calls == 0);
  // The connection is closed, not left waiting for the late reply.
  BOOST_TEST(server.wait_until([](const server_stats& s) { return s.client_aborts == 1; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_stream_that_stalls_is_an_idle_timeout_after_its_data) {
  loopback_server server;
  server.on("/stall", [](const received_request&) { return stalled_stream(); });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get(server.url("/stall"));
  req.timeouts.idle_ms = 200;
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::timeout, out.message);
  BOOST_TEST(out.timeout == timeout_kind::idle);
  BOOST_TEST(out.status == 200);
  BOOST_TEST(got->body() == "data: partial\n\n");
  BOOST_TEST(ms(out.total_us - out.first_byte_us) >= 200u);
  BOOST_TEST(ms(out.total_us) < 3000u);
  BOOST_TEST(server.wait_until([](const server_stats& s) { return s.client_aborts == 1; }, 10s));
}

BOOST_AUTO_TEST_CASE(the_idle_limit_is_between_chunks_not_for_the_whole_body) {
  loopback_server server;
  server.on("/steady", [](const received_request&) {
    return streamed_reply({"1", "2", "3", "4", "5", "6", "7", "8"}, 0ms, 60ms);
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get(server.url("/steady"));
  req.timeouts.idle_ms = 250; // far above 60 ms, far below the 420 ms of the body
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  BOOST_TEST(got->outcome().ok(), got->outcome().message);
  BOOST_TEST(got->body() == "12345678");
}

BOOST_AUTO_TEST_CASE(a_body_that_takes_too_long_is_a_total_timeout) {
  loopback_server server;
  server.on("/long", [](const received_request&) {
    return streamed_reply(std::vector<std::string>(100, "x"), 0ms, 30ms);
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto req = get(server.url("/long"));
  req.timeouts.total_ms = 300;
  client->submit(req, record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::timeout, out.message);
  BOOST_TEST(out.timeout == timeout_kind::total);
  BOOST_TEST(got->chunk_count() >= 2u);
  BOOST_TEST(got->chunk_count() < 100u);
  BOOST_TEST(ms(out.total_us) >= 290u);
  BOOST_TEST(ms(out.total_us) < 3000u);
}

BOOST_AUTO_TEST_CASE(a_reset_mid_stream_is_a_connection_error_after_the_partial_data) {
  loopback_server server;
  server.on("/reset", [](const received_request&) {
    auto plan = streamed_reply({"a", "b"}, 0ms, 20ms);
    plan.end_delay = 100ms; // the client reads both chunks before the RST
    plan.end = reply_end::reset;
    return plan;
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  client->submit(get(server.url("/reset")), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::connection, out.message);
  BOOST_TEST(out.connection == connection_error::reset, out.message);
  BOOST_TEST(got->body() == "ab");
  BOOST_TEST(out.status == 200);
}

BOOST_AUTO_TEST_CASE(a_close_mid_stream_is_a_closed_connection) {
  loopback_server server;
  server.on("/close", [](const received_request&) {
    auto plan = streamed_reply({"a"}, 0ms, 0ms);
    plan.end = reply_end::close;
    return plan;
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  client->submit(get(server.url("/close")), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::connection, out.message);
  BOOST_TEST(out.connection == connection_error::closed, out.message);
  BOOST_TEST(got->body() == "a");
}

BOOST_AUTO_TEST_CASE(cancel_closes_the_connection_and_ends_the_request_once) {
  loopback_server server;
  server.on("/stall", [](const received_request&) { return stalled_stream(); });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto handle = client->submit(get(server.url("/stall")), record_into(got));
  BOOST_REQUIRE(got->wait_chunks(1));
  client->cancel(handle);
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::canceled, out.message);
  BOOST_TEST(out.status == 200);
  BOOST_TEST(server.wait_until([](const server_stats& s) { return s.client_aborts == 1; }, 10s));
  client->cancel(handle); // ended: ignored
  client.reset();
  BOOST_TEST(got->done_count() == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_of_a_queued_request_ends_it_before_it_starts) {
  loopback_server server;
  server.on("/stall", [](const received_request&) { return stalled_stream(); });
  auto client = make_client();
  auto first = std::make_shared<recorder>();
  auto second = std::make_shared<recorder>();
  auto req = get(server.url("/stall"));
  req.max_concurrency = 1;
  auto h1 = client->submit(req, record_into(first));
  auto h2 = client->submit(req, record_into(second));
  BOOST_REQUIRE(first->wait_chunks(1));
  client->cancel(h2);
  BOOST_REQUIRE(second->wait_done());
  BOOST_TEST(second->outcome().error == transport_error::canceled);
  BOOST_TEST(second->outcome().queued_us == second->outcome().total_us);
  BOOST_TEST(server.stats().requests == 1u); // it never reached the server
  client->cancel(h1);
  BOOST_REQUIRE(first->wait_done());
  BOOST_TEST(first->outcome().error == transport_error::canceled);
}

BOOST_AUTO_TEST_CASE(a_callback_that_aborts_stops_the_transfer) {
  loopback_server server;
  server.on("/stream", [](const received_request&) {
    return streamed_reply({"one", "two", "three"}, 0ms, 200ms);
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  got->abort_after_chunks = 1;
  client->submit(get(server.url("/stream")), record_into(got));
  BOOST_REQUIRE(got->wait_done());
  auto out = got->outcome();
  BOOST_TEST(out.error == transport_error::canceled, out.message);
  BOOST_TEST(out.message == "aborted by on_data");
  BOOST_TEST(got->body() == "one");
  BOOST_TEST(server.wait_until([](const server_stats& s) { return s.client_aborts == 1; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_callback_that_throws_aborts_and_the_thread_goes_on) {
  loopback_server server;
  server.on("/stream", [](const received_request&) {
    return streamed_reply({"one", "two"}, 0ms, 200ms);
  });
  auto client = make_client();
  auto got = std::make_shared<recorder>();
  auto cb = record_into(got);
  auto record = cb.on_data;
  cb.on_data = [record](std::string_view chunk) -> net::http_action {
    record(chunk);
    throw std::runtime_error("bad chunk");
  };
  client->submit(get(server.url("/stream")), cb);
  BOOST_REQUIRE(got->wait_done());
  BOOST_TEST(got->outcome().error == transport_error::canceled);
  BOOST_TEST(got->outcome().message == "on_data threw: bad chunk");
  // An on_done that throws is logged; the I/O thread serves the next one.
  net::http_callbacks throwing;
  throwing.on_done = [](net::http_outcome) { throw std::runtime_error("on_done"); };
  client->submit(get(server.url("/stream")), throwing);
  auto next = std::make_shared<recorder>();
  client->submit(get(server.url("/stream")), record_into(next));
  BOOST_REQUIRE(next->wait_done());
  BOOST_TEST(next->outcome().ok(), next->outcome().message);
  BOOST_TEST(next->body() == "onetwo");
}

BOOST_AUTO_TEST_CASE(destroying_the_client_ends_every_request_once) {
  loopback_server server;
  server.on("/stall", [](const received_request&) { return stalled_stream(); });
  auto client = make_client();
  std::vector<std::shared_ptr<recorder>> got;
  for (int i = 0; i < 25; ++i) { // 20 in flight, 5 waiting for a slot
    got.push_back(std::make_shared<recorder>());
    auto req = get(server.url("/stall"));
    req.max_concurrency = 20;
    client->submit(req, record_into(got.back()));
  }
  // An on_done that submits during the shutdown: its request ends too.
  auto late = std::make_shared<recorder>();
  auto* raw = client.get();
  auto req = get(server.url("/stall"));
  req.max_concurrency = 20; // a pool's limit is its latest request's
  net::http_callbacks cb;
  cb.on_done = [raw, late, req](net::http_outcome) { raw->submit(req, record_into(late)); };
  client->submit(req, cb);
  BOOST_REQUIRE(server.wait_until([](const server_stats& s) { return s.in_flight == 20; }, 10s));
  client.reset();
  for (const auto& r : got) {
    BOOST_TEST(r->done_count() == 1u);
    BOOST_TEST(r->outcome().error == transport_error::canceled);
  }
  BOOST_TEST(late->done_count() == 1u);
  BOOST_TEST(late->outcome().error == transport_error::canceled);
  BOOST_TEST(server.wait_until([](const server_stats& s) { return s.client_aborts == 20; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_request_that_cannot_be_sent_is_invalid) {
  auto client = make_client();
  auto bad_url = std::make_shared<recorder>();
  client->submit(get("gopher://127.0.0.1/"), record_into(bad_url));
  auto bad_header = std::make_shared<recorder>();
  auto req = get("http://127.0.0.1:1/");
  req.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  client->submit(req, record_into(bad_header));
  BOOST_REQUIRE(bad_url->wait_done());
  BOOST_REQUIRE(bad_header->wait_done());
  BOOST_TEST(bad_url->outcome().error == transport_error::invalid, bad_url->outcome().message);
  BOOST_TEST(bad_header->outcome().error == transport_error::invalid);
}

BOOST_AUTO_TEST_SUITE_END()
