// The HTTP server's pure parts: request targets, the SSE wire format (read
// back by core's own SSE parser), problem details, reply headers.

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/providers/sse.hpp"
#include "net/detail/request_target.hpp"
#include "net/detail/response_build.hpp"
#include "net/detail/sse_format.hpp"
#include "net/problem.hpp"

namespace {

using namespace troupe;
using net::detail::parse_target;

std::vector<providers::sse_event> read_back(const std::string& wire) {
  providers::sse_parser p;
  std::vector<providers::sse_event> out;
  BOOST_REQUIRE(p.feed(wire, out));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_parts)

BOOST_AUTO_TEST_CASE(targets_split_and_decode_path_and_query) {
  auto t = parse_target("/v1/runs/a%20b?status=running&label=x%3Dy&q=a+b&flag&&empty=");
  BOOST_REQUIRE(t);
  BOOST_TEST(t->path == "/v1/runs/a b");
  using pair = std::pair<std::string, std::string>;
  std::vector<pair> want{
    {"status", "running"}, {"label", "x=y"}, {"q", "a b"}, {"flag", ""}, {"empty", ""}};
  BOOST_TEST((t->query == want));
  BOOST_TEST(parse_target("/a+b")->path == "/a+b"); // `+` is a space only in the query

  auto absolute = parse_target("http://example.com:8080/x/y?z=1");
  BOOST_REQUIRE(absolute);
  BOOST_TEST(absolute->path == "/x/y");
  BOOST_TEST(absolute->query.size() == 1u);
  BOOST_TEST(parse_target("HTTP://example.com")->path == "/");
  BOOST_TEST(parse_target("*")->path == "*");
  BOOST_TEST(parse_target("/x#frag")->path == "/x");
}

BOOST_AUTO_TEST_CASE(bad_targets_and_escapes_are_refused) {
  for (const char* bad : {"", "x", "runs/1", "/%", "/%4", "/%zz", "/a%00b", "/?a=%g1",
                          "http://host?x=1", "ftp://host/x"})
    BOOST_TEST(!parse_target(bad), bad);
}

BOOST_AUTO_TEST_CASE(sse_events_have_one_data_line_per_line_and_read_back_whole) {
  std::string wire;
  net::detail::append_sse_event(wire, "7", "progress", "one\ntwo\r\nthree\rfour");
  BOOST_TEST(wire == "id: 7\nevent: progress\ndata: one\ndata: two\ndata: three\ndata: four\n\n");

  wire.clear();
  net::detail::append_sse_event(wire, "", "", "");
  BOOST_TEST(wire == "data: \n\n"); // still dispatched by a client

  wire.clear();
  using namespace std::string_literals;
  net::detail::append_sse_event(wire, "1\n2\0"s, "a\rb", "x\n");
  BOOST_TEST(wire == "id: 12\nevent: ab\ndata: x\ndata: \n\n"); // no field can be injected

  wire.clear();
  net::detail::append_sse_comment(wire, "keep\nalive");
  BOOST_TEST(wire == ": keepalive\n\n");
}

BOOST_AUTO_TEST_CASE(core_sse_parser_reads_back_what_the_server_writes) {
  std::string wire;
  net::detail::append_sse_comment(wire, "keepalive");
  net::detail::append_sse_event(wire, "1", "tick", "{\"n\":1}");
  net::detail::append_sse_event(wire, "", "", "multi\nline\n");
  net::detail::append_sse_event(wire, "3", "", "");
  auto events = read_back(wire);
  BOOST_REQUIRE_EQUAL(events.size(), 3u);
  BOOST_TEST(events[0].type == "tick");
  BOOST_TEST(events[0].data == "{\"n\":1}");
  BOOST_TEST(events[1].data == "multi\nline\n");
  BOOST_TEST(events[2].data == "");
}

BOOST_AUTO_TEST_CASE(problem_details_follow_rfc_9457) {
  auto r = net::problem(429, "quota-exceeded", "Quota exceeded", "10 runs per minute",
                        {{"quota", "submissions_per_minute"}, {"status", 999}});
  BOOST_TEST(r.status == 429);
  BOOST_TEST(r.content_type == "application/problem+json");
  auto j = nlohmann::json::parse(r.body);
  BOOST_TEST(j["type"] == "https://troupe.dev/problems/quota-exceeded");
  BOOST_TEST(j["title"] == "Quota exceeded");
  BOOST_TEST(j["status"] == 429); // an extra member cannot override a standard one
  BOOST_TEST(j["detail"] == "10 runs per minute");
  BOOST_TEST(j["quota"] == "submissions_per_minute");

  auto bad_utf8 = net::problem(400, "malformed-request", "Malformed request", "got \xff\xfe");
  BOOST_TEST(nlohmann::json::parse(bad_utf8.body)["detail"].get<std::string>().size() > 4u);
}

BOOST_AUTO_TEST_CASE(replies_carry_the_servers_framing_and_no_injected_headers) {
  namespace http = boost::beast::http;
  net::server_response r;
  r.status = 201;
  r.body = "{}";
  r.headers = {{"Location", "/v1/runs/1"},       {"X-Evil", "a\r\nSet-Cookie: x=1"},
               {"Bad Name", "x"},                {"Content-Length", "999"},
               {"Transfer-Encoding", "chunked"}, {"Connection", "close"}};
  net::detail::reply_context ctx{11, false, true};
  auto m = net::detail::build_reply(r, ctx);
  BOOST_TEST(m.result_int() == 201u);
  BOOST_TEST(std::string{m[http::field::location]} == "/v1/runs/1");
  BOOST_TEST((m.find("X-Evil") == m.end()));
  BOOST_TEST((m.find("Bad Name") == m.end()));
  BOOST_TEST(std::string{m[http::field::content_length]} == "2");
  BOOST_TEST(m.count(http::field::transfer_encoding) == 0u);
  BOOST_TEST(std::string{m[http::field::content_type]} == "application/json");
  BOOST_TEST(!ctx.keep_alive); // the handler's Connection: close is honoured
  BOOST_TEST(std::string{m[http::field::connection]} == "close");
  BOOST_TEST(m[http::field::date].size() == 29u); // "Sun, 06 Nov 1994 08:49:37 GMT"

  net::detail::reply_context head{10, true, true};
  r.headers.clear();
  auto h = net::detail::build_reply(r, head);
  BOOST_TEST(std::string{h[http::field::content_length]} == "2");
  BOOST_TEST(h.body().empty());
  BOOST_TEST(std::string{h[http::field::connection]} == "keep-alive"); // 1.0 needs it said

  r.status = 102;
  net::detail::reply_context plain{11, false, true};
  BOOST_TEST(net::detail::build_reply(r, plain).result_int() == 500u);
}

BOOST_AUTO_TEST_SUITE_END()
