// The MCP session's Streamable HTTP transport against a scripted endpoint on
// a real loopback HTTP server (test/net/loopback_server.hpp): the headers
// of each request, SSE replies carrying notifications and requests before
// the response, the GET stream's list changes, answers out of order, a
// timed-out call's stream closed and its cancellation sent, one failed POST
// failing one call, and HTTP 404 expiring the session.
#include "mcp/session.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "schemas/errors.hpp"
#include "test/mcp/mcp_peers.hpp"
#include "test/net/loopback_server.hpp"

using nlohmann::json;
using troupe::mcp_call_result;
using troupe::mcp_errc;
using troupe::render;
using troupe::mcp::session;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string header(const received_request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name)
      return v;
  return "<none>";
}

std::string sse(const json& message) {
  return "event: message\ndata: " + message.dump() + "\n\n";
}

json response(const json& request, json result) {
  return {{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(result)}};
}

json text_result(const std::string& text) {
  return {{"content", json::array({{{"type", "text"}, {"text", text}}})}};
}

// An MCP endpoint answering from a script, recording every request.
class scripted_endpoint {
public:
  scripted_endpoint() {
    server_.on("/mcp", [this](const received_request& r) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(r);
        cv_.notify_all();
      }
      return answer(r);
    });
  }

  std::string url() const { return server_.url("/mcp"); }
  loopback_server& server() { return server_; }

  std::vector<received_request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  /// Waits for a request `pred` accepts; fails the test after 20 s.
  received_request wait_for(const std::function<bool(const received_request&)>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    const received_request* found = nullptr;
    bool ok = cv_.wait_for(lock, 20s, [&] {
      for (const auto& r : requests_)
        if (pred(r)) {
          found = &r;
          return true;
        }
      return false;
    });
    BOOST_REQUIRE_MESSAGE(ok, "the endpoint never saw the request waited for");
    return *found;
  }
  received_request wait_for_post(const std::function<bool(const json&)>& pred) {
    return wait_for([&](const received_request& r) {
      if (r.method != "POST")
        return false;
      auto body = json::parse(r.body, nullptr, false);
      return body.is_object() && pred(body);
    });
  }

private:
  reply_plan answer(const received_request& r) {
    if (r.method == "DELETE")
      return plain_reply(200, "");
    if (r.method == "GET") {
      auto plan = streamed_reply(
        {": the server's own stream\n\n",
         sse({{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}})},
        0ms, 0ms);
      plan.end = reply_end::stall;
      return plan;
    }
    json m = json::parse(r.body);
    if (!m.contains("id") || !m.contains("method"))
      return plain_reply(202, ""); // a notification, or the answer to our request
    if (expired_ && header(r, "mcp-session-id") != "<none>")
      return plain_reply(404, R"({"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}})",
                         "application/json");
    std::string method = m["method"];
    if (method == "initialize") {
      auto plan = plain_reply(200,
                              response(m, {{"protocolVersion", "2025-11-25"},
                                           {"capabilities", {{"tools", {{"listChanged", true}}}}},
                                           {"serverInfo", {{"name", "scripted"}, {"version", "1"}}}})
                                .dump(),
                              "application/json");
      plan.headers.emplace_back("Mcp-Session-Id", "sess-1");
      return plan;
    }
    if (method == "ping")
      return plain_reply(200, response(m, json::object()).dump(), "application/json");
    if (method == "tools/list") {
      // A priming event (an id, empty data), a notification and a request
      // of the server's own, then the response.
      return streamed_reply(
        {"id: prime-1\ndata: \n\n",
         sse({{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
              {"params", {{"progressToken", 1}, {"progress", 1}}}}),
         sse({{"jsonrpc", "2.0"}, {"id", "srv-ping"}, {"method", "ping"}}),
         sse(response(m, {{"tools", json::array({{{"name", "echo"},
                                                  {"inputSchema", {{"type", "object"}}}}})}}))},
        0ms, 10ms);
    }
    return call(m);
  }

  reply_plan call(const json& m) {
    std::string tool = m["params"]["name"];
    const json& args = m["params"]["arguments"];
    if (tool == "echo")
      return plain_reply(200, response(m, text_result(args.value("text", ""))).dump(),
                         "application/json");
    if (tool == "slow")
      return streamed_reply({sse(response(m, text_result("slow")))},
                            std::chrono::milliseconds(args.value("ms", 0)), 0ms);
    if (tool == "hang") {
      auto plan = streamed_reply({"id: prime-2\ndata: \n\n"}, 0ms, 0ms);
      plan.end = reply_end::stall;
      return plan;
    }
    if (tool == "fail500")
      return plain_reply(500, "overloaded");
    if (tool == "accepted")
      return plain_reply(202, "");
    if (tool == "short_stream")
      return streamed_reply({sse({{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
                                  {"params", {{"progressToken", 2}, {"progress", 1}}}})},
                            0ms, 0ms);
    if (tool == "expire") {
      expired_ = true;
      return plain_reply(404, R"({"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}})",
                         "application/json");
    }
    return plain_reply(400, "unknown tool " + tool);
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<received_request> requests_;
  std::atomic<bool> expired_{false};
  loopback_server server_; // last: its threads stop before the rest goes
};

struct fixture {
  scripted_endpoint endpoint;
  std::unique_ptr<troupe::net::http_client> client;
  event_probe changed, closed;
  std::unique_ptr<session> s;

  fixture() {
    auto c = troupe::net::http_client::start();
    BOOST_REQUIRE_MESSAGE(c, render(c));
    client = std::move(*c);
    auto opened = session::open_http(endpoint.url(), {{"X-Extra", "yes"}}, *client,
                                     options("scripted"),
                                     {changed.callback(), closed.text_callback()});
    BOOST_REQUIRE_MESSAGE(opened, render(opened));
    s = std::move(*opened);
  }
  ~fixture() { s.reset(); } // before the client

  mcp_call_result call(const std::string& tool, json args = json::object(),
                       std::chrono::milliseconds timeout = 20s) {
    call_probe probe;
    s->call_tool(tool, std::move(args), timeout, probe.callback());
    return probe.wait();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(session_http, fixture)

BOOST_AUTO_TEST_CASE(requests_carry_the_negotiated_version_and_the_session_id) {
  BOOST_TEST(s->info().protocol_version == "2025-11-25");
  BOOST_TEST(call("echo", {{"text", "hi"}}).text == "hi");
  s->close();
  auto del = endpoint.wait_for([](const received_request& r) { return r.method == "DELETE"; });
  BOOST_TEST(header(del, "mcp-session-id") == "sess-1");
  auto all = endpoint.requests();
  BOOST_REQUIRE(all.size() >= 4u);
  const auto& init = all.front();
  BOOST_TEST(json::parse(init.body)["method"] == "initialize");
  BOOST_TEST(header(init, "mcp-session-id") == "<none>");
  BOOST_TEST(header(init, "mcp-protocol-version") == "<none>");
  for (const auto& r : all) {
    BOOST_TEST(header(r, "x-extra") == "yes");
    if (r.method == "POST") {
      BOOST_TEST(header(r, "accept") == "application/json, text/event-stream");
      BOOST_TEST(header(r, "content-type") == "application/json");
    }
    if (&r == &init)
      continue;
    BOOST_TEST(header(r, "mcp-session-id") == "sess-1", r.method << " " << r.body);
    BOOST_TEST(header(r, "mcp-protocol-version") == "2025-11-25", r.method << " " << r.body);
  }
  auto get = endpoint.wait_for([](const received_request& r) { return r.method == "GET"; });
  BOOST_TEST(header(get, "accept") == "text/event-stream");
  endpoint.wait_for_post([](const json& m) { return m["method"] == "notifications/initialized"; });
}

BOOST_AUTO_TEST_CASE(an_event_stream_carries_messages_before_the_response) {
  auto tools = s->list_tools(10s);
  BOOST_REQUIRE_MESSAGE(tools, render(tools));
  BOOST_REQUIRE_EQUAL(tools->size(), 1u);
  BOOST_TEST((*tools)[0].name == "echo");
  auto c = s->counters();
  BOOST_TEST(c.non_json_lines == 0u); // the priming event carries nothing
  BOOST_TEST(c.malformed_messages == 0u);
  BOOST_TEST(c.server_requests == 1u);
  BOOST_TEST(c.notifications >= 1u);
  // The server's ping was answered, in a POST of its own.
  auto answer = endpoint.wait_for_post([](const json& m) { return m.value("id", json()) == "srv-ping"; });
  BOOST_TEST(json::parse(answer.body)["result"] == json::object());
}

BOOST_AUTO_TEST_CASE(the_servers_own_stream_announces_list_changes) {
  BOOST_TEST(changed.wait(1));
}

BOOST_AUTO_TEST_CASE(answers_out_of_order_are_matched) {
  call_probe slow, fast;
  s->call_tool("slow", {{"ms", 400}}, 20s, slow.callback());
  s->call_tool("echo", {{"text", "fast"}}, 20s, fast.callback());
  BOOST_TEST(fast.wait().text == "fast");
  BOOST_TEST(!slow.ran());
  BOOST_TEST(slow.wait().text == "slow");
  BOOST_TEST(s->counters().out_of_order == 1u);
}

BOOST_AUTO_TEST_CASE(a_timed_out_call_closes_its_stream_and_is_cancelled) {
  call_probe hang;
  uint64_t id = s->call_tool("hang", json::object(), 300ms, hang.callback());
  auto r = hang.wait();
  BOOST_TEST(!r.answered);
  BOOST_TEST(r.error == "mcp server 'scripted': tools/call 'hang' timed out after 300 ms");
  auto cancelled = endpoint.wait_for_post(
    [](const json& m) { return m.value("method", "") == "notifications/cancelled"; });
  auto params = json::parse(cancelled.body)["params"];
  BOOST_TEST(params["requestId"] == id);
  BOOST_TEST(params["reason"] == "timed out after 300 ms");
  BOOST_TEST(endpoint.server().wait_until([](const server_stats& st) { return st.client_aborts >= 1; },
                                          20s));
  BOOST_TEST(s->alive());
}

BOOST_AUTO_TEST_CASE(a_failed_post_fails_only_its_call) {
  auto e500 = call("fail500");
  BOOST_TEST(!e500.answered);
  BOOST_TEST(e500.retryable);
  BOOST_TEST(e500.error == "mcp server 'scripted': tools/call 'fail500': HTTP 500: overloaded");
  auto accepted = call("accepted");
  BOOST_TEST(!accepted.answered);
  BOOST_TEST(contains(accepted.error, "HTTP 202 Accepted, without a response"), accepted.error);
  auto short_stream = call("short_stream");
  BOOST_TEST(!short_stream.answered);
  BOOST_TEST(contains(short_stream.error, "ended its event stream without a response"),
             short_stream.error);
  BOOST_TEST(s->alive());
  BOOST_TEST(call("echo", {{"text", "after"}}).text == "after");
  BOOST_TEST(closed.count() == 0);
}

BOOST_AUTO_TEST_CASE(http_404_to_our_session_id_expires_the_session) {
  auto r = call("expire");
  BOOST_TEST(!r.answered);
  BOOST_TEST(r.retryable);
  BOOST_TEST(contains(r.error, "the server no longer knows our session (HTTP 404"), r.error);
  BOOST_REQUIRE(closed.wait(1));
  BOOST_TEST(contains(closed.text(), "mcp server 'scripted': "), closed.text());
  BOOST_TEST(!s->alive());
  auto later = call("echo", {{"text", "x"}});
  BOOST_TEST(!later.answered);
  BOOST_TEST(contains(later.error, "expired"), later.error);
  auto err = s->ping(5s);
  BOOST_CHECK(err == mcp_errc::session_expired);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(session_http_open)

BOOST_AUTO_TEST_CASE(nobody_listening_fails_initialize_naming_the_step) {
  auto client = troupe::net::http_client::start();
  BOOST_REQUIRE(client);
  std::string url = "http://127.0.0.1:" + std::to_string(free_port()) + "/mcp";
  auto s = session::open_http(url, {}, **client, options("absent"));
  BOOST_REQUIRE(!s);
  BOOST_CHECK(s.error() == mcp_errc::transport_failed);
  std::string msg = render(s.error());
  BOOST_TEST(contains(msg, "mcp server 'absent': initialize: POST " + url + " failed (connection"),
             msg);
}

BOOST_AUTO_TEST_SUITE_END()
