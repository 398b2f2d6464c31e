#include <string>

#include <boost/test/unit_test.hpp>

#include "test/providers/decode_support.hpp"

using troupe::provider_kind;
using troupe::test::check_every_split;
using troupe::test::decode_bytewise;
using troupe::test::decode_whole;
using troupe::test::describe;
using troupe::test::recorded;
using troupe::test::replace_all;

namespace {

constexpr auto anthropic = provider_kind::anthropic;

std::string event(const std::string& type, const std::string& data) {
  return "event: " + type + "\ndata: " + data + "\n\n";
}

const std::string start = event(
  "message_start",
  R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}})");
const std::string stop = event("message_stop", R"({"type":"message_stop"})");

std::string tool_block(int index, const std::string& id, const std::string& partial_json) {
  auto i = std::to_string(index);
  return event("content_block_start",
               R"({"type":"content_block_start","index":)" + i
                 + R"(,"content_block":{"type":"tool_use","id":")" + id
                 + R"(","name":"f","input":{}}})")
         + event("content_block_delta",
                 R"({"type":"content_block_delta","index":)" + i
                   + R"(,"delta":{"type":"input_json_delta","partial_json":)" + partial_json + "}}")
         + event("content_block_stop", R"({"type":"content_block_stop","index":)" + i + "}");
}

std::string failure_of(const std::string& body, bool stream = true) {
  auto r = decode_whole(anthropic, stream, body).reply;
  return r.failure + " | " + r.failure_detail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(anthropic_replies)

BOOST_AUTO_TEST_CASE(tool_use_stream_decodes) {
  auto d = decode_whole(anthropic, true, recorded("anthropic_tools.sse"));
  troupe::model_response want;
  want.text = "I'll read the file and list the directory.";
  want.finish_reason = "tool_use";
  want.tokens = {472, 89};
  want.tool_calls = {{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", "read_file", R"({"path":"a.txt","limit":20})"},
                     {"toolu_01VwYkH9bGZ3o8a2c5n4LrQe", "list_dir", "{}"}};
  BOOST_TEST(describe(d.reply) == describe(want));
  BOOST_TEST(d.deltas == want.text);
  BOOST_TEST(d.empty_first == 0u);
}

BOOST_AUTO_TEST_CASE(text_stream_skips_thinking_and_unknown_events) {
  auto d = decode_whole(anthropic, true, recorded("anthropic_text.sse"));
  BOOST_TEST(d.reply.failure == "");
  BOOST_TEST(d.reply.text == "Hello! Grüße — 你好.");
  BOOST_TEST(d.reply.finish_reason == "end_turn");
  BOOST_TEST(d.reply.tokens.input == 25u);
  BOOST_TEST(d.reply.tokens.output == 15u);
  BOOST_TEST(d.deltas == d.reply.text);
}

BOOST_AUTO_TEST_CASE(every_recorded_stream_decodes_the_same_however_it_is_split) {
  for (auto name : {"anthropic_tools.sse", "anthropic_text.sse", "anthropic_error.sse"}) {
    BOOST_TEST_CONTEXT(name) {
      auto body = recorded(name);
      check_every_split(anthropic, true, body);
      auto want = describe(decode_whole(anthropic, true, body).reply);
      BOOST_TEST(describe(decode_bytewise(anthropic, true, replace_all(body, "\n", "\r\n")).reply)
                 == want);
    }
  }
  check_every_split(anthropic, false, recorded("anthropic_tools.json"));
}

BOOST_AUTO_TEST_CASE(whole_reply_matches_the_stream) {
  auto streamed = decode_whole(anthropic, true, recorded("anthropic_tools.sse")).reply;
  auto whole = decode_whole(anthropic, false, recorded("anthropic_tools.json"));
  BOOST_TEST(describe(whole.reply) == describe(streamed));
  BOOST_TEST(whole.deltas == streamed.text);
  BOOST_TEST(whole.delta_calls == 1u);
}

BOOST_AUTO_TEST_CASE(tool_input_pieces_join_and_parse_at_block_stop) {
  auto body = start + tool_block(0, "toolu_a", R"("{\"q\": [1, {\"x\": \"y\"}]}")")
              + tool_block(1, "toolu_b", R"("")") + stop;
  auto r = decode_whole(anthropic, true, body).reply;
  BOOST_REQUIRE(r.tool_calls.size() == 2u);
  BOOST_TEST(r.tool_calls[0].args_json == R"({"q":[1,{"x":"y"}]})"); // compact, order kept
  BOOST_TEST(r.tool_calls[1].args_json == "{}");
  // Pieces that do not join into JSON are kept as written for the run to reject.
  body = start + tool_block(0, "toolu_a", R"("{\"q\": ")") + stop;
  r = decode_whole(anthropic, true, body).reply;
  BOOST_TEST(r.failure == "");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"q": )");
}

BOOST_AUTO_TEST_CASE(an_error_event_is_classified) {
  BOOST_TEST(failure_of(recorded("anthropic_error.sse"))
             == "overloaded | anthropic stream: line 11: the server sent an error: overloaded_error: Overloaded");
  BOOST_TEST(failure_of(start + event("error", R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})"))
             .find("rate_limited | ") == 0u);
  BOOST_TEST(failure_of(start + event("error", R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})"))
             .find("server_error | ") == 0u);
  BOOST_TEST(failure_of(R"({"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}})", false)
             .find("quota_exhausted | anthropic reply: the server sent an error: invalid_request_error: Your credit") == 0u);
}

BOOST_AUTO_TEST_CASE(truncated_and_malformed_streams) {
  auto body = recorded("anthropic_tools.sse");
  auto cut = body.find("event: message_stop");
  BOOST_TEST(failure_of(body.substr(0, cut))
             == "malformed | anthropic stream: the stream ended after line 54 without message_stop (truncated)");
  size_t malformed = 0;
  for (size_t k = 0; k < cut; ++k)
    malformed += decode_whole(anthropic, true, body.substr(0, k)).reply.failure == "malformed";
  BOOST_TEST(malformed == cut);

  BOOST_TEST(failure_of(start + event("content_block_delta", R"({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}})"))
             == "malformed | anthropic stream: line 5: content block 3 was not started");
  BOOST_TEST(failure_of(start + event("content_block_start", R"({"type":"content_block_start","index":0})"))
             == "malformed | anthropic stream: line 5: content_block: missing");
  BOOST_TEST(failure_of(start + event("content_block_start", R"({"type":"content_block_start","content_block":{"type":"text","text":""}})"))
             == "malformed | anthropic stream: line 5: index: missing");
  BOOST_TEST(failure_of(event("message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":"ten"}}})"))
             == "malformed | anthropic stream: line 2: message.usage.input_tokens: expected a count (an integer >= 0), got a string");
  BOOST_TEST(failure_of(start + event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})")
                        + event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}})"))
             == "malformed | anthropic stream: line 8: input_json_delta for content block 0, which is not a tool_use block");
  auto open_tool = event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}})");
  BOOST_TEST(failure_of(start + open_tool + stop)
             == "malformed | anthropic stream: tool_use block 0 has no content_block_stop");
  BOOST_TEST(failure_of(start + "event: ping\ndata: {oops}\n\n")
             .find("malformed | anthropic stream: line 5: expected JSON after 'data: ' (") == 0u);
  BOOST_TEST(failure_of(R"({"content":"text","stop_reason":"end_turn"})", false)
             == "malformed | anthropic reply: content: expected an array, got a string");
}

BOOST_AUTO_TEST_CASE(the_data_type_decides_even_without_event_lines) {
  // Some proxies drop the `event:` lines; the data carries the type too.
  auto body = recorded("anthropic_tools.sse");
  std::string stripped;
  for (size_t at = 0; at < body.size();) {
    auto end = body.find('\n', at);
    auto line = body.substr(at, end - at + 1);
    if (line.rfind("event:", 0) != 0)
      stripped += line;
    at = end + 1;
  }
  BOOST_TEST(describe(decode_whole(anthropic, true, stripped).reply)
             == describe(decode_whole(anthropic, true, body).reply));
}

BOOST_AUTO_TEST_SUITE_END()
