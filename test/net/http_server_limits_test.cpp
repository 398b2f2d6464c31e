// The HTTP server against clients that send too much, too little, garbage,
// or too slowly: every refusal is problem+json and closes the connection,
// every timeout closes it, measured from the moment the contract says.

#include <chrono>
#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "test/net/recorder.hpp"
#include "test/net/server_test_support.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using clock_type = std::chrono::steady_clock;
namespace http = boost::beast::http;

void ok(net::server_request&& req, net::responder r) {
  net::server_response res;
  res.body = R"({"bytes":)" + std::to_string(req.body.size()) + "}";
  r.reply(std::move(res));
}

// The problem the server answered `bytes` with, and that it then closed.
void expect_refusal(uint16_t port, const std::string& bytes, int status, const std::string& slug) {
  raw_client c{port};
  c.send(bytes); // the server may close while we still send
  auto r = c.read_response();
  BOOST_REQUIRE_MESSAGE(r, "no reply to: " << bytes.substr(0, 80));
  BOOST_TEST(r->status == status, bytes.substr(0, 80));
  BOOST_TEST(r->header(http::field::content_type) == "application/problem+json");
  BOOST_TEST(r->header(http::field::connection) == "close");
  auto j = nlohmann::json::parse(r->body);
  BOOST_TEST(j["type"] == "https://troupe.dev/problems/" + slug, bytes.substr(0, 80));
  BOOST_TEST(j["status"] == status);
  BOOST_TEST(c.wait_closed(3s));
}

std::chrono::milliseconds since(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t);
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_limits)

BOOST_AUTO_TEST_CASE(a_header_section_over_the_limit_is_431) {
  auto opts = test_options();
  opts.max_header_bytes = 4096;
  auto server = start_server(opts, ok);
  expect_refusal(server->port(), get_request("/", "X-Big: " + std::string(8000, 'a') + "\r\n"),
                 431, "headers-too-large");
  // Just under the limit is served.
  raw_client c{server->port()};
  c.send(get_request("/", "X-Big: " + std::string(3900, 'a') + "\r\n"));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(server->stats().rejected == 1u);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_413_before_it_is_read) {
  auto opts = test_options();
  opts.max_body_bytes = 64 * 1024;
  auto server = start_server(opts, ok);
  // Content-Length says 100 MB and nothing of it is sent: the answer cannot
  // have waited for the body.
  expect_refusal(server->port(),
                 "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\nabc", 413,
                 "body-too-large");
  // Chunked: refused once the chunks pass the limit, the rest never sent.
  std::string chunked = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 80; ++i)
    chunked += "400\r\n" + std::string(1024, 'z') + "\r\n";
  expect_refusal(server->port(), chunked, 413, "body-too-large");
  // Exactly the limit is served.
  raw_client c{server->port()};
  c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n" + std::string(65536, 'b'));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body == R"({"bytes":65536})");
}

BOOST_AUTO_TEST_CASE(libcurl_uploading_too_much_reads_the_413) {
  auto opts = test_options();
  opts.max_body_bytes = 64 * 1024;
  auto server = start_server(opts, ok);
  auto client = net::http_client::start();
  BOOST_REQUIRE(client);
  net::http_request req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(server->port()) + "/big";
  req.body = std::string(4 << 20, 'x');
  auto rec = std::make_shared<recorder>();
  (*client)->submit(std::move(req), record_into(rec));
  BOOST_REQUIRE(rec->wait_done());
  auto out = rec->outcome();
  BOOST_REQUIRE_MESSAGE(out.ok(), out.message);
  BOOST_TEST(out.status == 413);
  BOOST_TEST(nlohmann::json::parse(rec->body())["type"]
             == "https://troupe.dev/problems/body-too-large");
}

BOOST_AUTO_TEST_CASE(malformed_requests_are_400) {
  auto server = start_server(test_options(), ok);
  for (const std::string& bad : {
         std::string{"HELLO\r\n\r\n"},
         std::string{"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n"},
         std::string{"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n"},
         std::string{"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
         std::string{"GET / HTTP/1.1\r\n\r\n"},              // no Host
         std::string{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
         std::string{"GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n"}, // bad escape
         std::string{"GET runs HTTP/1.1\r\nHost: t\r\n\r\n"},  // not a path
         std::string{"GET / HTTP/2.0\r\nHost: t\r\n\r\n"}, // Beast: 1.0 and 1.1 only
         // Smuggling shapes: both framings, and a last coding that is not chunked.
         std::string{"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
         std::string{"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
         std::string{"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
         std::string{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
         std::string{"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
       })
    expect_refusal(server->port(), bad, 400, "malformed-request");
  BOOST_TEST(server->stats().requests == 0u);
}

BOOST_AUTO_TEST_CASE(unsupported_codings_and_expectations_are_refused) {
  auto server = start_server(test_options(), ok);
  expect_refusal(server->port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                 "unsupported-transfer-encoding");
  expect_refusal(server->port(), "GET / HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\n\r\n",
                 417, "expectation-failed");
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_get_503_and_are_closed) {
  auto opts = test_options();
  opts.max_connections = 2;
  auto server = start_server(opts, ok);
  raw_client a{server->port()};
  raw_client b{server->port()};
  BOOST_REQUIRE(wait_until([&] { return server->stats().connections == 2; }));
  expect_refusal(server->port(), get_request("/"), 503, "overloaded");
  // The two admitted ones are served; once one leaves, a newcomer is too.
  a.send(get_request("/"));
  BOOST_TEST(a.read_response()->status == 200);
  b.close();
  BOOST_REQUIRE(wait_until([&] { return server->stats().connections == 1; }));
  raw_client c{server->port()};
  c.send(get_request("/"));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
}

BOOST_AUTO_TEST_CASE(a_dribbled_header_is_cut_off_at_header_timeout_from_its_first_byte) {
  auto opts = test_options();
  opts.header_timeout = 300ms;
  auto server = start_server(opts, ok);
  raw_client c{server->port()};
  std::string request = get_request("/", "X-Slow: " + std::string(200, 's') + "\r\n");
  auto first_byte = clock_type::now();
  bool closed = false;
  // One byte every 20 ms: each byte would renew a per-read timeout.
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    if (!c.send(request.substr(i, 1)))
      closed = true;
    else
      closed = c.fill(clock_type::now() + 20ms) == raw_client::fill_result::closed;
  }
  if (!closed)
    closed = c.wait_closed(2s);
  auto took = since(first_byte);
  BOOST_TEST(closed);
  BOOST_TEST(took.count() >= 280);
  BOOST_TEST(took.count() < 1000);
  BOOST_TEST(c.received().empty()); // closed without a reply
  BOOST_TEST(server->stats().timed_out == 1u);
  BOOST_TEST(server->stats().requests == 0u);
}

BOOST_AUTO_TEST_CASE(a_silent_new_connection_is_closed_at_header_timeout) {
  auto opts = test_options();
  opts.header_timeout = 200ms;
  auto server = start_server(opts, ok);
  auto start = clock_type::now();
  raw_client c{server->port()};
  BOOST_TEST(c.wait_closed(2s));
  BOOST_TEST(since(start).count() >= 180);
}

BOOST_AUTO_TEST_CASE(a_slow_body_is_cut_off_at_body_timeout) {
  auto opts = test_options();
  opts.body_timeout = 300ms;
  opts.header_timeout = 5s;
  auto server = start_server(opts, ok);
  raw_client c{server->port()};
  c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
  auto header_sent = clock_type::now();
  bool closed = false;
  for (int i = 0; i < 1000 && !closed; ++i)
    closed = !c.send("b") || c.fill(clock_type::now() + 20ms) == raw_client::fill_result::closed;
  auto took = since(header_sent);
  BOOST_TEST(closed);
  BOOST_TEST(took.count() >= 280);
  BOOST_TEST(took.count() < 1000);
  BOOST_TEST(server->stats().timed_out == 1u);
}

BOOST_AUTO_TEST_CASE(an_idle_keep_alive_connection_is_closed_at_idle_timeout) {
  auto opts = test_options();
  opts.idle_timeout = 250ms;
  auto server = start_server(opts, ok);
  raw_client c{server->port()};
  c.send(get_request("/"));
  BOOST_REQUIRE(c.read_response());
  auto replied = clock_type::now();
  BOOST_TEST(c.wait_closed(2s));
  BOOST_TEST(since(replied).count() >= 230);
  BOOST_TEST(server->stats().timed_out == 0u); // idle is not a request's timeout
}

BOOST_AUTO_TEST_CASE(a_client_that_does_not_read_its_reply_is_cut_off_at_write_timeout) {
  auto opts = test_options();
  opts.write_timeout = 300ms;
  const size_t size = 32u << 20;
  auto server = start_server(opts, [&](net::server_request&&, net::responder r) {
    net::server_response res;
    res.content_type = "application/octet-stream";
    res.body = std::string(size, 'w');
    r.reply(std::move(res));
  });
  raw_client c{server->port(), 4096};
  c.send(get_request("/big"));
  BOOST_REQUIRE(wait_until([&] { return server->stats().requests == 1; }));
  auto asked = clock_type::now();
  BOOST_REQUIRE(wait_until([&] { return server->stats().connections == 0; }, 5s));
  BOOST_TEST(since(asked).count() >= 250);
  BOOST_TEST(server->stats().timed_out == 1u);
  c.wait_closed(5s); // what the kernel had buffered, then the end
  BOOST_TEST(c.total_read() < size);
}

BOOST_AUTO_TEST_SUITE_END()
