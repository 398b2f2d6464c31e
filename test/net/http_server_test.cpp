// The HTTP server answering well-formed requests: through libcurl (the
// project's own client) and through raw sockets where the bytes on the wire
// matter (keep-alive, HTTP/1.0, pipelining, HEAD, chunked bodies, 100
// Continue), replies from other threads, and the 500 for a handler that
// does not answer.

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "test/net/recorder.hpp"
#include "test/net/server_test_support.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
namespace http = boost::beast::http;

// Answers every request with what it saw, as JSON.
void echo(net::server_request&& req, net::responder r) {
  nlohmann::json query = nlohmann::json::object();
  for (auto& [k, v] : req.query)
    query[k] = v;
  net::server_response res;
  res.body = nlohmann::json{{"method", req.method},
                            {"target", req.target},
                            {"path", req.path},
                            {"query", query},
                            {"user_agent", req.header("user-agent").value_or("")},
                            {"x_case", req.header("x-mixed-case").value_or("")},
                            {"body", req.body},
                            {"remote", req.remote},
                            {"version", req.version}}
               .dump();
  res.headers = {{"X-Served-By", "test"}};
  r.reply(std::move(res));
}

struct fetched {
  net::http_outcome outcome;
  std::string body;
};

fetched fetch(net::http_client& client, net::http_request req) {
  auto rec = std::make_shared<recorder>();
  client.submit(std::move(req), record_into(rec));
  BOOST_REQUIRE(rec->wait_done());
  return {rec->outcome(), rec->body()};
}

net::http_request request(uint16_t port, std::string method, std::string path,
                          std::string body = {}) {
  net::http_request req;
  req.method = std::move(method);
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  req.body = std::move(body);
  req.pool = "server-test";
  req.headers = {{"X-Mixed-Case", "yes"}, {"User-Agent", "troupe-test"}};
  return req;
}

std::unique_ptr<net::http_client> client() {
  auto c = net::http_client::start();
  BOOST_REQUIRE_MESSAGE(c, render(c));
  return std::move(*c);
}

nlohmann::json json_of(const std::string& body) {
  return nlohmann::json::parse(body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_requests)

BOOST_AUTO_TEST_CASE(libcurl_requests_are_answered_on_one_kept_alive_connection) {
  auto server = start_server(test_options(), echo);
  auto c = client();
  auto first = fetch(*c, request(server->port(), "GET", "/v1/runs/a%20b?status=running&x=1+2"));
  BOOST_REQUIRE_MESSAGE(first.outcome.ok(), first.outcome.message);
  BOOST_TEST(first.outcome.status == 200);
  BOOST_TEST(*net::find_header(first.outcome.headers, "content-type") == "application/json");
  BOOST_TEST(*net::find_header(first.outcome.headers, "x-served-by") == "test");
  auto j = json_of(first.body);
  BOOST_TEST(j["method"] == "GET");
  BOOST_TEST(j["path"] == "/v1/runs/a b");
  BOOST_TEST(j["query"]["status"] == "running");
  BOOST_TEST(j["query"]["x"] == "1 2");
  BOOST_TEST(j["x_case"] == "yes"); // names are lower-cased, values kept
  BOOST_TEST(j["user_agent"] == "troupe-test");
  BOOST_TEST(j["version"] == 11);

  auto second = fetch(*c, request(server->port(), "POST", "/v1/runs", R"({"task":"x"})"));
  BOOST_REQUIRE_MESSAGE(second.outcome.ok(), second.outcome.message);
  auto k = json_of(second.body);
  BOOST_TEST(k["method"] == "POST");
  BOOST_TEST(k["body"] == R"({"task":"x"})");
  BOOST_TEST(k["remote"] == j["remote"]); // same client port: the connection was reused
  BOOST_TEST(server->stats().requests == 2u);
  BOOST_TEST(server->stats().connections == 1u);
}

BOOST_AUTO_TEST_CASE(keep_alive_until_the_client_says_connection_close) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(c.send(get_request("/n/" + std::to_string(i))));
    auto r = c.read_response();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->status == 200);
    BOOST_TEST(r->keep_alive);
    BOOST_TEST(json_of(r->body)["path"] == "/n/" + std::to_string(i));
    BOOST_TEST(!r->header(http::field::content_length).empty());
    BOOST_TEST(!r->header(http::field::date).empty());
  }
  BOOST_REQUIRE(c.send(get_request("/last", "Connection: close\r\n")));
  auto last = c.read_response();
  BOOST_REQUIRE(last);
  BOOST_TEST(last->status == 200);
  BOOST_TEST(last->header(http::field::connection) == "close");
  BOOST_TEST(c.wait_closed(2s));
  c.close(); // the server drains until the client is gone too
  BOOST_TEST(wait_until([&] { return server->stats().connections == 0; }, 1s));
}

BOOST_AUTO_TEST_CASE(http_1_0_is_answered_and_kept_alive_only_when_asked) {
  auto server = start_server(test_options(), echo);
  raw_client plain{server->port()};
  BOOST_REQUIRE(plain.send("GET /old HTTP/1.0\r\n\r\n")); // no Host needed in 1.0
  auto r = plain.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(json_of(r->body)["version"] == 10);
  BOOST_TEST(!r->header(http::field::content_length).empty());
  BOOST_TEST(plain.wait_closed(2s));

  raw_client kept{server->port()};
  for (int i = 0; i < 2; ++i) {
    BOOST_REQUIRE(kept.send("GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto k = kept.read_response();
    BOOST_REQUIRE(k);
    BOOST_TEST(k->status == 200);
    BOOST_TEST(k->header(http::field::connection) == "keep-alive");
  }
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send(get_request("/1") + get_request("/2") + get_request("/3")));
  for (const char* path : {"/1", "/2", "/3"}) {
    auto r = c.read_response();
    BOOST_REQUIRE(r);
    BOOST_TEST(json_of(r->body)["path"] == path);
  }
}

BOOST_AUTO_TEST_CASE(head_gets_the_length_without_the_body) {
  auto server = start_server(test_options(), [](net::server_request&&, net::responder r) {
    net::server_response res;
    res.body = std::string(1234, 'x');
    r.reply(std::move(res));
  });
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response(true);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->header(http::field::content_length) == "1234");
  BOOST_REQUIRE(c.send(get_request("/x"))); // no stray body bytes came before this reply
  auto g = c.read_response();
  BOOST_REQUIRE(g);
  BOOST_TEST(g->body.size() == 1234u);
}

BOOST_AUTO_TEST_CASE(a_chunked_request_body_is_read_whole) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(json_of(r->body)["body"] == "hello world");
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  auto server = start_server(test_options(), echo);
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n"));
  BOOST_REQUIRE(c.read_until("HTTP/1.1 100 Continue\r\n\r\n", 2s));
  c.clear_received();
  BOOST_REQUIRE(c.send("abcde"));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(json_of(r->body)["body"] == "abcde");
}

BOOST_AUTO_TEST_CASE(a_reply_may_come_from_another_thread_later) {
  handoff<std::shared_ptr<net::responder>> held;
  auto server = start_server(test_options(), [&](net::server_request&&, net::responder r) {
    held.put(std::make_shared<net::responder>(std::move(r)));
  });
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send(get_request("/later")));
  auto r = held.take();
  BOOST_REQUIRE(r);
  std::thread replier{[r = *r] {
    net::server_response res;
    res.status = 202;
    res.body = R"({"job_id":"j1"})";
    r->reply(std::move(res));
    r->reply(net::server_response{}); // a second answer is ignored
  }};
  replier.join();
  auto got = c.read_response();
  BOOST_REQUIRE(got);
  BOOST_TEST(got->status == 202);
  BOOST_TEST(got->body == R"({"job_id":"j1"})");
  // Only one reply was written: nothing else arrives while /next is held,
  // and what comes once its responder is dropped is /next's 500.
  BOOST_REQUIRE(c.send(get_request("/next")));
  auto next = held.take();
  BOOST_REQUIRE(next);
  BOOST_TEST(!c.read_response(false, 200ms));
  next->reset();
  auto dropped = c.read_response();
  BOOST_REQUIRE(dropped);
  BOOST_TEST(dropped->status == 500);
}

BOOST_AUTO_TEST_CASE(a_handler_that_drops_its_responder_or_throws_gets_500) {
  auto server = start_server(test_options(), [](net::server_request&& req, net::responder) {
    if (req.path == "/throw")
      throw std::runtime_error("boom");
  });
  raw_client c{server->port()};
  for (const char* path : {"/drop", "/throw"}) {
    BOOST_REQUIRE(c.send(get_request(path)));
    auto r = c.read_response();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->status == 500);
    BOOST_TEST(r->header(http::field::content_type) == "application/problem+json");
    BOOST_TEST(json_of(r->body)["type"] == "https://troupe.dev/problems/internal-error");
    BOOST_TEST(r->keep_alive); // the connection serves the next request
  }
}

BOOST_AUTO_TEST_CASE(a_responder_dropped_on_another_thread_gets_500) {
  auto server = start_server(test_options(), [](net::server_request&&, net::responder r) {
    std::thread{[r = std::move(r)] {}}.detach();
  });
  raw_client c{server->port()};
  BOOST_REQUIRE(c.send(get_request("/x")));
  auto r = c.read_response();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 500);
}

BOOST_AUTO_TEST_SUITE_END()
