// The MCP session against the reference server nobody on this team wrote:
// @modelcontextprotocol/server-everything (pinned, installed from npm by
// scripts/mcp-peers.sh), over stdio and over Streamable HTTP. Version
// negotiation, tools with annotations, calls that succeed, fail and are
// refused, and a long-running call that times out: its notifications/
// cancelled reaches the server, which then drops its answer (the SDK does
// not answer a canceled request), so no late response ever arrives.
#include "mcp/session.hpp"

#include <map>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "schemas/errors.hpp"
#include "test/mcp/mcp_peers.hpp"

using nlohmann::json;
using troupe::mcp_call_result;
using troupe::mcp_tool;
using troupe::render;
using troupe::mcp::session;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

mcp_call_result call(session& s, const std::string& tool, json args,
                     std::chrono::milliseconds timeout = 30s) {
  call_probe probe;
  s.call_tool(tool, std::move(args), timeout, probe.callback());
  return probe.wait(timeout + 10s);
}

// What every transport must get right with server-everything.
void check_tools_and_calls(session& s) {
  BOOST_TEST(s.info().protocol_version == "2025-11-25");
  BOOST_TEST(s.info().name == "mcp-servers/everything");
  BOOST_TEST(s.info().has_tools);
  BOOST_TEST(s.info().list_changed);
  BOOST_TEST(!s.info().instructions.empty());

  auto tools = s.list_tools(30s);
  BOOST_REQUIRE_MESSAGE(tools, render(tools));
  std::map<std::string, mcp_tool> by_name;
  for (auto& t : *tools)
    by_name[t.name] = t;
  BOOST_REQUIRE(by_name.count("echo"));
  BOOST_REQUIRE(by_name.count("get-sum"));
  BOOST_REQUIRE(by_name.count("trigger-long-running-operation"));
  for (const char* name : {"echo", "get-sum"}) {
    const auto& a = by_name[name].annotations;
    BOOST_TEST(a.read_only.value_or(false), name);
    BOOST_TEST(a.idempotent.value_or(false), name);
    BOOST_TEST(!a.destructive.value_or(true), name);
    BOOST_TEST(!a.open_world.value_or(true), name);
  }
  BOOST_TEST(by_name["echo"].title == "Echo Tool");
  BOOST_TEST(by_name["echo"].input_schema["properties"].contains("message"));
  BOOST_TEST(by_name["get-sum"].input_schema["required"] == (json{"a", "b"}));

  auto echo = call(s, "echo", {{"message", "hello from troupe"}});
  BOOST_TEST(echo.answered);
  BOOST_TEST(!echo.is_error);
  BOOST_TEST(echo.text == "Echo: hello from troupe");

  auto sum = call(s, "get-sum", {{"a", 2}, {"b", 3}});
  BOOST_TEST(!sum.is_error);
  BOOST_TEST(sum.text == "The sum of 2 and 3 is 5.");

  // Invalid arguments and an unknown tool: the server answers with isError.
  auto invalid = call(s, "get-sum", {{"a", "two"}});
  BOOST_TEST(invalid.answered);
  BOOST_TEST(invalid.is_error);
  BOOST_TEST(contains(invalid.text, "Input validation error"), invalid.text);
  auto unknown = call(s, "no-such-tool", json::object());
  BOOST_TEST(unknown.answered);
  BOOST_TEST(unknown.is_error);
  BOOST_TEST(contains(unknown.text, "Tool no-such-tool not found"), unknown.text);

  auto image = call(s, "get-tiny-image", json::object());
  BOOST_TEST(!image.is_error);
  BOOST_TEST(contains(image.text, "[image image/png, "), image.text);

  BOOST_CHECK(!s.ping(10s));
}

void check_long_running_call_is_cancelled(session& s) {
  call_probe first;
  uint64_t id = s.call_tool("trigger-long-running-operation", {{"duration", 1}, {"steps", 1}},
                            300ms, first.callback());
  auto r = first.wait();
  BOOST_TEST(!r.answered);
  BOOST_TEST(r.retryable);
  BOOST_TEST(r.error
             == "mcp server 'everything': tools/call 'trigger-long-running-operation' timed "
                "out after 300 ms");
  // The first operation would have answered 1 s after it started; this
  // one answers later than that. No late answer meanwhile: the server got
  // notifications/cancelled for request `id` and dropped its answer.
  auto second = call(s, "trigger-long-running-operation", {{"duration", 1.5}, {"steps", 1}});
  BOOST_TEST(second.answered);
  BOOST_TEST(contains(second.text, "Long running operation completed"), second.text);
  BOOST_TEST(s.counters().unmatched_responses == 0u, "a late answer to request " << id);
  BOOST_TEST(first.times() == 1);
}

struct everything_http {
  uint16_t port = free_port();
  watched_process server{{npm_server("mcp-server-everything"), "streamableHttp"},
                         {"PORT=" + std::to_string(port)}};

  everything_http() {
    BOOST_REQUIRE_MESSAGE(server.wait_for("listening on port " + std::to_string(port)),
                          "server-everything did not start: " << server.output());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/mcp"; }
};

std::unique_ptr<troupe::net::http_client> start_client() {
  auto client = troupe::net::http_client::start();
  BOOST_REQUIRE_MESSAGE(client, render(client));
  return std::move(*client);
}

// The id the server printed when it created the session.
std::string printed_session_id(watched_process& server) {
  const std::string marker = "Session initialized with ID: ";
  BOOST_REQUIRE(server.wait_for(marker));
  auto out = server.output();
  auto at = out.find(marker) + marker.size();
  return out.substr(at, out.find('\n', at) - at);
}

} // namespace

BOOST_AUTO_TEST_SUITE(session_everything)

BOOST_AUTO_TEST_CASE(over_stdio) {
  auto server = spawn_server({npm_server("mcp-server-everything"), "stdio"});
  auto s = session::open_stdio(std::move(server.pipes), options("everything"));
  BOOST_REQUIRE_MESSAGE(s, render(s));
  check_tools_and_calls(**s);
  check_long_running_call_is_cancelled(**s);
  BOOST_TEST((*s)->counters().malformed_messages == 0u);
  BOOST_TEST((*s)->counters().non_json_lines == 0u);
  (*s)->close();
  BOOST_TEST(server.status->load() != -1);
}

BOOST_AUTO_TEST_CASE(over_streamable_http) {
  everything_http http;
  auto client = start_client();
  auto s = session::open_http(http.url(), {}, *client, options("everything"));
  BOOST_REQUIRE_MESSAGE(s, render(s));
  // Every request after initialize carries the session id the server
  // assigned (it refuses one without), and close() ends that session.
  std::string sid = printed_session_id(http.server);
  BOOST_TEST(!sid.empty());
  check_tools_and_calls(**s);
  check_long_running_call_is_cancelled(**s);
  BOOST_TEST((*s)->counters().malformed_messages == 0u);
  (*s)->close();
  BOOST_TEST(http.server.wait_for("Received session termination request for session " + sid),
             http.server.output());
}

BOOST_AUTO_TEST_CASE(over_http_a_restarted_server_expires_the_session) {
  uint16_t port = free_port();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  auto client = start_client();
  event_probe closed;
  std::unique_ptr<session> s;
  {
    watched_process first{{npm_server("mcp-server-everything"), "streamableHttp"},
                          {"PORT=" + std::to_string(port)}};
    BOOST_REQUIRE(first.wait_for("listening on port"));
    auto opened = session::open_http(url, {}, *client, options("everything"), {{}, closed.text_callback()});
    BOOST_REQUIRE_MESSAGE(opened, render(opened));
    s = std::move(*opened);
    BOOST_TEST(call(*s, "echo", {{"message", "one"}}).text == "Echo: one");
  }
  watched_process second{{npm_server("mcp-server-everything"), "streamableHttp"},
                         {"PORT=" + std::to_string(port)}};
  BOOST_REQUIRE_MESSAGE(second.wait_for("listening on port"), second.output());
  auto r = call(*s, "echo", {{"message", "two"}});
  BOOST_TEST(!r.answered);
  BOOST_TEST(contains(r.error, "the server no longer knows our session"), r.error);
  BOOST_REQUIRE(closed.wait(1));
  BOOST_TEST(contains(closed.text(), "a new session must be opened"), closed.text());
  BOOST_TEST(!s->alive());
  // A new session works.
  auto fresh = session::open_http(url, {}, *client, options("everything"));
  BOOST_REQUIRE_MESSAGE(fresh, render(fresh));
  BOOST_TEST(call(**fresh, "echo", {{"message", "three"}}).text == "Echo: three");
}

BOOST_AUTO_TEST_SUITE_END()
