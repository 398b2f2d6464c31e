// The MCP session over stdio against a server that misbehaves on purpose
// (test/peers/mcp_misbehaving.py, a real python3 child process): garbage on
// stdout, answers out of order between notifications and requests of its
// own, a crash mid-call, calls never answered, tool list changes,
// pagination, an unsupported protocol version, a server that will not exit.
#include "mcp/session.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "schemas/errors.hpp"
#include "test/mcp/mcp_peers.hpp"
#include "test/support/temp_dir.hpp"

using nlohmann::json;
using troupe::mcp_call_result;
using troupe::mcp_errc;
using troupe::render;
using troupe::mcp::session;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

int64_t ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                               - start)
    .count();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<session> open(started_server& server, troupe::mcp::session_options o = options(),
                              troupe::mcp::session_events events = {}) {
  auto s = session::open_stdio(std::move(server.pipes), std::move(o), std::move(events));
  BOOST_REQUIRE_MESSAGE(s, render(s));
  return std::move(*s);
}

mcp_call_result call(session& s, const std::string& tool, json args = json::object(),
                     std::chrono::milliseconds timeout = 20s) {
  call_probe probe;
  s.call_tool(tool, std::move(args), timeout, probe.callback());
  return probe.wait();
}

// The requestIds of the notifications/cancelled the peer received.
std::vector<uint64_t> cancelled_ids(session& s) {
  auto r = call(s, "cancelled_log");
  BOOST_REQUIRE_MESSAGE(r.answered && !r.is_error, r.text);
  std::vector<uint64_t> ids;
  for (const auto& c : json::parse(r.text))
    ids.push_back(c["requestId"].get<uint64_t>());
  return ids;
}

std::vector<json> log_lines(const std::filesystem::path& file) {
  std::vector<json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    out.push_back(json::parse(line));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(session_stdio)

BOOST_AUTO_TEST_CASE(initialize_negotiates_and_a_call_is_answered) {
  auto server = spawn_peer({});
  auto s = open(server);
  BOOST_TEST(s->info().protocol_version == "2025-11-25");
  BOOST_TEST(s->info().name == "mcp-misbehaving");
  BOOST_TEST(s->info().list_changed);
  BOOST_TEST(s->info().instructions == "a test peer");
  auto r = call(*s, "echo", {{"text", "hello"}});
  BOOST_TEST(r.answered);
  BOOST_TEST(!r.is_error);
  BOOST_TEST(r.text == "hello");
  BOOST_CHECK(!s->ping(5s));
  BOOST_TEST(s->alive());
  s->close();
  BOOST_TEST(!s->alive());
  // The server saw EOF on stdin and exited on its own.
  BOOST_TEST(WIFEXITED(server.status->load()));
  BOOST_TEST(WEXITSTATUS(server.status->load()) == 0);
}

BOOST_AUTO_TEST_CASE(failed_results_and_rpc_errors_are_answered_failures) {
  auto server = spawn_peer({});
  auto s = open(server);
  auto failed = call(*s, "fail");
  BOOST_TEST(failed.answered);
  BOOST_TEST(failed.is_error);
  BOOST_TEST(failed.text == "it failed, as asked");
  auto rpc = call(*s, "rpc_error");
  BOOST_TEST(rpc.answered);
  BOOST_TEST(rpc.is_error);
  BOOST_TEST(rpc.text == "error -32602: invalid arguments for rpc_error");
  auto image = call(*s, "image");
  BOOST_TEST(image.text == "[image image/png, 8 bytes]");
}

BOOST_AUTO_TEST_CASE(garbage_lines_are_skipped_and_counted) {
  auto server = spawn_peer({"--garbage"});
  auto s = open(server);
  auto r = call(*s, "echo", {{"text", "through the noise"}});
  BOOST_TEST(r.text == "through the noise");
  auto tools = s->list_tools(10s);
  BOOST_REQUIRE_MESSAGE(tools, render(tools));
  // The banner and the garbage line before it, then one garbage line
  // before each of the three messages it sent (blank lines do not count).
  BOOST_TEST(s->counters().non_json_lines == 5u);
  BOOST_TEST(s->counters().malformed_messages == 0u);
}

BOOST_AUTO_TEST_CASE(out_of_order_answers_between_notifications_and_requests_are_matched) {
  temp_dir dir;
  auto log = dir.path / "peer.log";
  auto server = spawn_peer({"--out-of-order", "3", "--chatty", "--log", log.string()});
  auto s = open(server);
  std::vector<call_probe> probes(3);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(s->call_tool("echo", {{"text", "call " + std::to_string(i)}}, 20s,
                               probes[i].callback()));
  for (int i = 0; i < 3; ++i) {
    auto r = probes[i].wait();
    BOOST_TEST(r.answered);
    BOOST_TEST(r.text == "call " + std::to_string(i));
  }
  auto c = s->counters();
  BOOST_TEST(c.out_of_order == 2u); // the third answered first, then the second
  BOOST_TEST(c.unmatched_responses == 0u);
  BOOST_TEST(c.notifications == 8u); // two before each of the four responses
  BOOST_TEST(c.server_requests == 4u);
  BOOST_TEST(!s->ping(5s));
  s->close(); // the peer read all our answers before it exited
  // Its own requests were answered: ping with {}, the others with -32601.
  std::map<std::string, json> answers;
  for (const auto& e : log_lines(log))
    if (e["event"] == "answer")
      answers[e["message"]["id"].get<std::string>()] = e["message"];
  BOOST_REQUIRE_EQUAL(answers.size(), 5u);
  BOOST_TEST(answers["srv-1"]["result"] == json::object()); // ping
  BOOST_TEST(answers["srv-2"]["error"]["code"] == -32601);  // roots/list
  BOOST_TEST(answers["srv-3"]["error"]["code"] == -32601);  // sampling/createMessage
  BOOST_TEST(answers["srv-4"]["result"] == json::object()); // ping
  BOOST_TEST(answers["srv-5"]["error"]["code"] == -32601);  // roots/list, before our ping's answer
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(probes[i].times() == 1);
}

BOOST_AUTO_TEST_CASE(a_crash_mid_call_fails_every_call_in_flight_at_once) {
  event_probe closed;
  auto server = spawn_peer({"--crash-on-call", "boom"});
  auto s = open(server, options(), {{}, closed.text_callback()});
  call_probe slow, boom;
  auto start = std::chrono::steady_clock::now();
  s->call_tool("slow", {{"ms", 60000}}, 120s, slow.callback());
  s->call_tool("boom", json::object(), 120s, boom.callback());
  for (auto* p : {&slow, &boom}) {
    auto r = p->wait(20s);
    BOOST_TEST(!r.answered);
    BOOST_TEST(r.is_error);
    BOOST_TEST(r.retryable);
    BOOST_TEST(contains(r.error, "mcp server 'peer': tools/call '"), r.error);
    BOOST_TEST(contains(r.error, "the server is gone (its stdout closed, it exited with status 3)"),
               r.error);
    BOOST_TEST(contains(r.error, "crashing in the middle of boom"), r.error);
  }
  // At once: long before any of the calls' timeouts.
  BOOST_TEST(ms_since(start) < 15000);
  BOOST_REQUIRE(closed.wait(1));
  BOOST_TEST(contains(closed.text(), "exited with status 3"), closed.text());
  BOOST_TEST(!s->alive());
  BOOST_TEST(contains(s->stderr_tail(), "crashing in the middle of boom"));
  // Later calls fail at once, with the same reason.
  auto later = call(*s, "echo", {{"text", "x"}});
  BOOST_TEST(!later.answered);
  BOOST_TEST(contains(later.error, "exited with status 3"), later.error);
  BOOST_TEST(WEXITSTATUS(server.status->load()) == 3);
  BOOST_TEST(closed.count() == 1);
}

BOOST_AUTO_TEST_CASE(a_call_never_answered_times_out_and_is_cancelled) {
  auto server = spawn_peer({"--never-answer", "hang"});
  auto s = open(server);
  call_probe hang;
  uint64_t id = s->call_tool("hang", json::object(), 300ms, hang.callback());
  auto r = hang.wait(10s);
  BOOST_TEST(!r.answered);
  BOOST_TEST(r.retryable);
  BOOST_TEST(r.error == "mcp server 'peer': tools/call 'hang' timed out after 300 ms");
  BOOST_TEST(cancelled_ids(*s) == std::vector<uint64_t>{id});
  BOOST_TEST(s->alive());
  BOOST_TEST(hang.times() == 1);
}

BOOST_AUTO_TEST_CASE(cancel_ends_the_call_now_and_tells_the_server) {
  auto server = spawn_peer({});
  auto s = open(server);
  call_probe slow;
  uint64_t id = s->call_tool("slow", {{"ms", 60000}}, 120s, slow.callback());
  s->cancel(id);
  BOOST_REQUIRE(slow.ran()); // on this thread, before cancel returned
  auto r = slow.wait();
  BOOST_TEST(!r.answered);
  BOOST_TEST(!r.retryable);
  BOOST_TEST(contains(r.error, "tools/call 'slow' canceled"), r.error);
  BOOST_TEST(cancelled_ids(*s) == std::vector<uint64_t>{id});
  s->cancel(id); // finished: nothing happens
  BOOST_TEST(slow.times() == 1);
  BOOST_TEST(call(*s, "echo", {{"text", "still here"}}).text == "still here");
}

BOOST_AUTO_TEST_CASE(close_fails_calls_in_flight) {
  auto server = spawn_peer({});
  auto s = open(server);
  call_probe slow;
  s->call_tool("slow", {{"ms", 60000}}, 120s, slow.callback());
  s->close();
  BOOST_REQUIRE(slow.ran());
  auto r = slow.wait();
  BOOST_TEST(!r.answered);
  BOOST_TEST(r.error == "mcp server 'peer': tools/call 'slow': session closed");
  s->close(); // idempotent
  BOOST_TEST(slow.times() == 1);
}

BOOST_AUTO_TEST_CASE(a_server_that_ignores_eof_is_killed_after_the_grace) {
  auto server = spawn_peer({"--ignore-stdin-eof"});
  auto o = options();
  o.shutdown_grace = 200ms;
  auto s = open(server, o);
  auto start = std::chrono::steady_clock::now();
  s->close();
  BOOST_TEST(ms_since(start) < 10000);
  int status = server.status->load();
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);
}

BOOST_AUTO_TEST_CASE(list_changed_after_a_call_announces_the_new_list) {
  event_probe changed;
  auto server = spawn_peer({"--list-changed"});
  auto s = open(server, options(), {changed.callback(), {}});
  auto before = s->list_tools(10s);
  BOOST_REQUIRE_MESSAGE(before, render(before));
  auto names = [](const std::vector<troupe::mcp_tool>& tools) {
    std::set<std::string> out;
    for (const auto& t : tools)
      out.insert(t.name);
    return out;
  };
  BOOST_TEST(names(*before).count("added_later") == 0u);
  BOOST_TEST(call(*s, "echo", {{"text", "x"}}).text == "x");
  BOOST_REQUIRE(changed.wait(1));
  auto after = s->list_tools(10s);
  BOOST_REQUIRE(after);
  BOOST_TEST(names(*after).count("added_later") == 1u);
  BOOST_TEST(after->size() == before->size() + 1);
}

BOOST_AUTO_TEST_CASE(pagination_follows_next_cursor) {
  auto whole_server = spawn_peer({});
  auto whole = open(whole_server);
  auto all = whole->list_tools(10s);
  BOOST_REQUIRE(all);
  auto paged_server = spawn_peer({"--paginate", "5"});
  auto paged = open(paged_server);
  auto pages = paged->list_tools(10s);
  BOOST_REQUIRE_MESSAGE(pages, render(pages));
  BOOST_REQUIRE_EQUAL(pages->size(), all->size());
  BOOST_TEST(all->size() == 13u); // three pages of five
  for (size_t i = 0; i < all->size(); ++i)
    BOOST_TEST((*pages)[i].name == (*all)[i].name);
  const auto& echo = (*all)[0];
  BOOST_TEST(echo.name == "echo");
  BOOST_TEST(echo.annotations.read_only.value());
  BOOST_TEST(echo.input_schema["required"][0] == "text");
}

BOOST_AUTO_TEST_CASE(an_unsupported_version_is_a_clear_error) {
  auto server = spawn_peer({"--version", "2024-11-05"});
  auto s = session::open_stdio(std::move(server.pipes), options());
  BOOST_REQUIRE(!s);
  BOOST_CHECK(s.error() == mcp_errc::unsupported_version);
  std::string msg = render(s.error());
  BOOST_TEST(contains(msg, "mcp server 'peer': initialize: "), msg);
  BOOST_TEST(contains(msg, "'2024-11-05'"), msg);
  BOOST_TEST(contains(msg, "2025-11-25, 2025-06-18"), msg);
  BOOST_TEST(server.status->load() != -1); // killed or exited, and reaped
}

BOOST_AUTO_TEST_CASE(a_silent_server_fails_initialize_by_its_deadline) {
  auto server = spawn_peer({"--never-answer", "initialize"});
  auto o = options();
  o.startup_timeout = 1500ms; // python3 has started and said so by then
  auto s = session::open_stdio(std::move(server.pipes), o);
  BOOST_REQUIRE(!s);
  BOOST_CHECK(s.error() == mcp_errc::timeout);
  std::string msg = render(s.error());
  BOOST_TEST(contains(msg, "mcp server 'peer': initialize timed out after 1500 ms"), msg);
  BOOST_TEST(contains(msg, "its stderr ends: mcp_misbehaving: started with"), msg);
  BOOST_TEST(server.status->load() != -1);
}

BOOST_AUTO_TEST_CASE(a_server_that_is_not_there_fails_initialize_as_gone) {
  auto server = spawn_server({"python3", "-c", "import sys; sys.stderr.write('no such module\\n'); sys.exit(1)"});
  event_probe closed;
  auto s = session::open_stdio(std::move(server.pipes), options("ghost"), {{}, closed.text_callback()});
  BOOST_REQUIRE(!s);
  BOOST_TEST(closed.count() == 0); // the error says it; on_closed is for open sessions
  BOOST_CHECK(s.error() == mcp_errc::server_gone);
  std::string msg = render(s.error());
  BOOST_TEST(contains(msg, "mcp server 'ghost': initialize: the server is gone"), msg);
  BOOST_TEST(contains(msg, "exited with status 1"), msg);
  BOOST_TEST(contains(msg, "no such module"), msg);
}

BOOST_AUTO_TEST_CASE(an_oversized_message_is_dropped_and_the_session_goes_on) {
  auto server = spawn_peer({"--big", "5000"});
  auto o = options();
  o.max_message_bytes = 4096;
  auto s = open(server, o);
  auto big = call(*s, "big", json::object(), 500ms);
  BOOST_TEST(!big.answered);
  BOOST_TEST(contains(big.error, "timed out"), big.error);
  BOOST_TEST(s->counters().oversized_messages == 1u);
  BOOST_TEST(call(*s, "echo", {{"text", "small"}}).text == "small");
}

BOOST_AUTO_TEST_SUITE_END()
