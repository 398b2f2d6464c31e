// The command provider's pure part: the request JSON, the tolerant JSON-line
// parser (bytes split anywhere), and the decision success / failure.
#include "core/providers/command_wire.hpp"

#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"

using nlohmann::json;
using troupe::command_end;
using troupe::command_exit;
using troupe::command_reply;
using troupe::command_reply_parser;

namespace {

// What a chatty command prints: a banner, blank lines, unknown events, JSON
// that is not an object, a bad field, CRLF, a multi-byte character, two tool
// calls, usage, done, and noise after done.
const std::string recorded =
  "model v1.2 starting\n"
  "\n"
  "{\"type\":\"progress\",\"percent\":10}\n"
  "{\"no_type\":true}\n"
  "[1,2,3]\n"
  "{\"type\":\"text\",\"text\":\"Hello, \"}\n"
  "{\"type\":\"text\",\"text\":\"w\xc3\xb6rld\"}\r\n"
  "{\"type\":\"text\",\"text\":42}\n"
  "{\"type\":\"tool_call\",\"id\":\"t1\",\"name\":\"echo\",\"arguments\":{\"x\":[1,2]}}\n"
  "{\"type\":\"tool_call\",\"name\":\"read_file\",\"arguments\":\"{\\\"path\\\": \\\"a\"}\n"
  "{\"type\":\"tool_call\",\"arguments\":{}}\n"
  "{\"type\":\"usage\",\"input\":120,\"output\":30}\n"
  "{\"type\":\"done\",\"finish_reason\":\"tool_calls\"}\n"
  "trailing noise\n";

command_reply parse_whole(const std::string& bytes) {
  command_reply_parser p{"call_7_"};
  p.feed(bytes);
  return p.finish();
}

void check_same(const command_reply& a, const command_reply& b) {
  BOOST_TEST(a.text == b.text);
  BOOST_REQUIRE_EQUAL(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    BOOST_TEST(a.tool_calls[i].call_id == b.tool_calls[i].call_id);
    BOOST_TEST(a.tool_calls[i].name == b.tool_calls[i].name);
    BOOST_TEST(a.tool_calls[i].args_json == b.tool_calls[i].args_json);
  }
  BOOST_TEST(a.tokens.input == b.tokens.input);
  BOOST_TEST(a.tokens.output == b.tokens.output);
  BOOST_TEST(a.done == b.done);
  BOOST_TEST(a.finish_reason == b.finish_reason);
  BOOST_TEST(a.stats.skipped_lines == b.stats.skipped_lines);
  BOOST_TEST(a.stats.unknown_events == b.stats.unknown_events);
  BOOST_TEST(a.stats.bytes == b.stats.bytes);
  BOOST_TEST(a.raw == b.raw);
}

command_exit exited(int status, std::string stderr_tail = {}) {
  command_exit e;
  e.end = command_end::exited;
  e.status = status;
  e.stderr_tail = std::move(stderr_tail);
  return e;
}

} // namespace

BOOST_AUTO_TEST_SUITE(command_wire)

BOOST_AUTO_TEST_CASE(request_is_one_object_in_the_openai_chat_shape) {
  troupe::model_call call;
  call.run_id = "r-1";
  call.agent = "lead";
  call.model = "local";
  call.turn = 3;
  call.request_index = 5;
  call.messages = {
    {troupe::chat_role::system, "be brief", {}, {}},
    {troupe::chat_role::user, "hi \xff", {}, {}}, // invalid UTF-8 is replaced, not fatal
    {troupe::chat_role::assistant, "", {{"c1", "echo", "{\"x\":1}"}}, {}},
    {troupe::chat_role::tool, "{\"x\":1}", {}, "c1"},
  };
  call.tools = {{"echo", "returns its arguments", "{\"type\":\"object\"}"}};
  troupe::endpoint_config e;
  e.name = "cli";
  e.max_output_tokens = 1000;
  auto text = troupe::command_request_json(call, e);
  BOOST_REQUIRE_MESSAGE(text, troupe::render(text));
  BOOST_TEST(text->find('\n') == std::string::npos); // one line
  auto req = json::parse(*text);
  BOOST_TEST(req["version"] == 1);
  BOOST_TEST(req["run_id"] == "r-1");
  BOOST_TEST(req["agent"] == "lead");
  BOOST_TEST(req["model"] == "local");
  BOOST_TEST(req["turn"] == 3);
  BOOST_TEST(req["request_index"] == 5);
  BOOST_TEST(req["endpoint"] == "cli");
  BOOST_TEST(req["max_output_tokens"] == 1000);
  auto& m = req["messages"];
  BOOST_REQUIRE_EQUAL(m.size(), 4u);
  BOOST_TEST(m[0] == json({{"role", "system"}, {"content", "be brief"}}));
  BOOST_TEST(m[1]["content"] == "hi \xef\xbf\xbd");
  BOOST_TEST(m[2]["tool_calls"] == json::parse(R"([{"id":"c1","type":"function",
    "function":{"name":"echo","arguments":"{\"x\":1}"}}])"));
  BOOST_TEST(m[3] == json({{"role", "tool"}, {"content", "{\"x\":1}"}, {"tool_call_id", "c1"}}));
  BOOST_TEST(req["tools"] == json::parse(R"([{"type":"function","function":{"name":"echo",
    "description":"returns its arguments","parameters":{"type":"object"}}}])"));
}

BOOST_AUTO_TEST_CASE(a_tool_schema_that_is_not_json_is_an_error) {
  troupe::model_call call;
  call.tools = {{"echo", "", "{not json"}};
  auto text = troupe::command_request_json(call, {});
  BOOST_REQUIRE(!text);
  BOOST_CHECK(text.error() == troupe::runtime_errc::invalid_arguments);
  BOOST_TEST(troupe::render(text).find("'echo'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(noise_and_unknown_events_are_counted_not_fatal) {
  auto r = parse_whole(recorded);
  BOOST_TEST(r.text == "Hello, w\xc3\xb6rld");
  BOOST_REQUIRE_EQUAL(r.tool_calls.size(), 2u);
  BOOST_TEST(r.tool_calls[0].call_id == "t1");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"x":[1,2]})");
  BOOST_TEST(r.tool_calls[1].call_id == "call_7_1"); // generated: prefix + position
  BOOST_TEST(r.tool_calls[1].args_json == R"({"path": "a)"); // verbatim, malformed
  BOOST_TEST(r.tokens.input == 120u);
  BOOST_TEST(r.tokens.output == 30u);
  BOOST_TEST(r.done);
  BOOST_TEST(r.finish_reason == "tool_calls");
  // banner, [1,2,3], text 42, tool call without a name, trailing noise
  BOOST_TEST(r.stats.skipped_lines == 5u);
  BOOST_TEST(r.stats.unknown_events == 2u); // progress, no type
  BOOST_TEST(r.stats.bytes == recorded.size());
  BOOST_TEST(!r.stats.truncated);
  BOOST_TEST(r.raw == recorded);
}

BOOST_AUTO_TEST_CASE(split_at_every_byte_boundary_parses_the_same) {
  auto whole = parse_whole(recorded);
  for (size_t cut = 0; cut <= recorded.size(); ++cut) {
    BOOST_TEST_CONTEXT("cut at " << cut) {
      command_reply_parser p{"call_7_"};
      p.feed(std::string_view{recorded}.substr(0, cut));
      p.feed(std::string_view{recorded}.substr(cut));
      check_same(p.finish(), whole);
    }
  }
  command_reply_parser bytewise{"call_7_"};
  for (char c : recorded)
    bytewise.feed(std::string_view{&c, 1});
  check_same(bytewise.finish(), whole);
}

BOOST_AUTO_TEST_CASE(a_last_line_without_newline_counts) {
  command_reply_parser p{"c"};
  p.feed("{\"type\":\"text\",\"text\":\"a\"}\n{\"type\":\"done\"}");
  auto r = p.finish();
  BOOST_TEST(r.done);
  BOOST_TEST(r.finish_reason == "stop");
  BOOST_TEST(r.text == "a");
}

BOOST_AUTO_TEST_CASE(raw_output_is_kept_under_its_cap_and_the_cap_recorded) {
  command_reply_parser p{"c", {16, 1 << 20}};
  p.feed(recorded);
  auto r = p.finish();
  BOOST_TEST(r.raw == recorded.substr(0, 16));
  BOOST_TEST(r.stats.truncated);
  BOOST_TEST(r.stats.raw_cap == 16u);
  BOOST_TEST(r.stats.bytes == recorded.size());
  BOOST_TEST(r.done); // parsing goes on past the cap
  BOOST_TEST(r.text == "Hello, w\xc3\xb6rld");
}

BOOST_AUTO_TEST_CASE(an_overlong_line_is_skipped_without_being_buffered) {
  command_reply_parser p{"c", {1 << 20, 64}};
  std::string long_text = "{\"type\":\"text\",\"text\":\"" + std::string(200, 'x') + "\"}\n";
  p.feed(long_text.substr(0, 100));
  p.feed(long_text.substr(100));
  p.feed("{\"type\":\"text\",\"text\":\"ok\"}\n{\"type\":\"done\"}\n");
  auto r = p.finish();
  BOOST_TEST(r.text == "ok");
  BOOST_TEST(r.stats.skipped_lines == 1u);
  BOOST_TEST(r.done);
}

BOOST_AUTO_TEST_CASE(success_needs_exit_zero_and_done) {
  auto ok = troupe::command_response(parse_whole(recorded), exited(0));
  BOOST_TEST(ok.failure.empty());
  BOOST_TEST(ok.text == "Hello, w\xc3\xb6rld");
  BOOST_TEST(ok.tool_calls.size() == 2u);
  BOOST_TEST(ok.finish_reason == "tool_calls");

  auto bad_exit = troupe::command_response(parse_whole(recorded), exited(3, "boom\n"));
  BOOST_TEST(bad_exit.failure == "server_error");
  BOOST_TEST(bad_exit.failure_detail == "the command exited with status 3; stderr: boom");
  BOOST_TEST(bad_exit.text.empty());            // no half replies
  BOOST_TEST(bad_exit.tokens.input == 120u);    // what was spent stays

  auto no_done = troupe::command_response(parse_whole("{\"type\":\"text\",\"text\":\"a\"}\n"),
                                          exited(0));
  BOOST_TEST(no_done.failure == "server_error");
  BOOST_TEST(no_done.failure_detail.find("without a done event") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(failures_are_classified_in_order) {
  auto error_line = std::string{"{\"type\":\"error\",\"message\":\"slow down\","
                                "\"failure\":\"rate_limited\",\"retry_after_ms\":1500}\n"};
  auto named = troupe::command_response(parse_whole(error_line), exited(1));
  BOOST_TEST(named.failure == "rate_limited");
  BOOST_TEST(named.retry_after_ms == 1500u);
  BOOST_TEST(named.failure_detail.find("slow down") != std::string::npos);

  auto unnamed = troupe::command_response(
    parse_whole("{\"type\":\"error\",\"failure\":\"nonsense\"}\n{\"type\":\"done\"}\n"), exited(0));
  BOOST_TEST(unnamed.failure == "server_error");

  command_exit canceled;
  canceled.end = command_end::canceled;
  BOOST_TEST(troupe::command_response(parse_whole(error_line), canceled).failure == "canceled");

  command_exit timed_out;
  timed_out.end = command_end::timed_out;
  timed_out.detail = "no output for 10 ms (idle limit)";
  auto t = troupe::command_response(parse_whole(""), timed_out);
  BOOST_TEST(t.failure == "timeout");
  BOOST_TEST(t.failure_detail.find("idle limit") != std::string::npos);

  command_exit missing;
  missing.end = command_end::not_started;
  missing.detail = "cannot start 'x': No such file or directory";
  BOOST_TEST(troupe::command_response(parse_whole(""), missing).failure == "connection");

  command_exit killed;
  killed.end = command_end::signaled;
  killed.status = 11;
  auto k = troupe::command_response(parse_whole(recorded), killed);
  BOOST_TEST(k.failure == "server_error");
  BOOST_TEST(k.failure_detail == "the command was killed by signal 11");
}

BOOST_AUTO_TEST_SUITE_END()
