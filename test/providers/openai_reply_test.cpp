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

constexpr auto openai = provider_kind::openai;

// A chunk as OpenAI sends it, around `choice_fields` of choice 0.
std::string chunk(const std::string& choice_fields) {
  return R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,)"
         + choice_fields + "}]}\n\n";
}

std::string failure_of(const std::string& body, bool stream = true) {
  auto r = decode_whole(openai, stream, body).reply;
  BOOST_TEST(r.text.empty());
  BOOST_TEST(r.tool_calls.empty());
  return r.failure + " | " + r.failure_detail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(openai_replies)

BOOST_AUTO_TEST_CASE(text_stream_decodes_with_usage_and_reports_deltas) {
  auto d = decode_whole(openai, true, recorded("openai_text.sse"));
  BOOST_TEST(d.reply.failure == "");
  BOOST_TEST(d.reply.text
             == "The workspace holds two files: `a.txt` and `b.txt`. Both are plain text — été 😀.");
  BOOST_TEST(d.reply.finish_reason == "stop");
  BOOST_TEST(d.reply.tokens.input == 182u);
  BOOST_TEST(d.reply.tokens.output == 31u);
  BOOST_TEST(d.reply.tool_calls.empty());
  BOOST_TEST(d.deltas == d.reply.text);
  BOOST_TEST(d.delta_calls == 16u); // one per non-empty content delta
  BOOST_TEST(d.empty_first == 0u);
}

BOOST_AUTO_TEST_CASE(tool_call_stream_merges_argument_pieces) {
  auto d = decode_whole(openai, true, recorded("openai_tools.sse"));
  BOOST_TEST(describe(d.reply) == describe([] {
               troupe::model_response r;
               r.finish_reason = "tool_calls";
               r.tokens = {182, 48};
               r.tool_calls = {{"call_Xk29fQ0pLm3VbN8sTe1Rw4Ya", "read_file", R"({"path":"a.txt"})"},
                               {"call_7HqZ2mWcYv0e5RkJ1sDf9uPa", "list_dir",
                                R"({"path": ".", "depth": 2})"}};
               return r;
             }()));
  // Only tool calls: the first token is reported as an empty piece.
  BOOST_TEST(d.empty_first == 1u);
  BOOST_TEST(d.delta_calls == 1u);
}

BOOST_AUTO_TEST_CASE(parallel_calls_interleaved_by_index) {
  auto r = decode_whole(openai, true, recorded("openai_interleaved.sse")).reply;
  BOOST_TEST(r.failure == "");
  BOOST_REQUIRE(r.tool_calls.size() == 2u);
  BOOST_TEST(r.tool_calls[0].call_id == "chatcmpl-tool-1a2b");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"path": "a.txt"})");
  BOOST_TEST(r.tool_calls[1].call_id == "chatcmpl-tool-3c4d");
  BOOST_TEST(r.tool_calls[1].args_json == R"({"path": "b.txt"})");
  BOOST_TEST(r.tokens.input == 97u);
  BOOST_TEST(r.tokens.output == 40u);
}

BOOST_AUTO_TEST_CASE(index_zero_reused_with_new_ids_starts_new_calls) {
  auto r = decode_whole(openai, true, recorded("openai_index0_reused.sse")).reply;
  BOOST_TEST(r.failure == "");
  BOOST_TEST(r.text == "Checking both.");
  BOOST_REQUIRE(r.tool_calls.size() == 3u);
  BOOST_TEST(r.tool_calls[0].call_id == "call_one");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"path":"a.txt"})");
  BOOST_TEST(r.tool_calls[1].call_id == "call_two");
  BOOST_TEST(r.tool_calls[1].args_json == R"({"path":"b.txt"})");
  BOOST_TEST(r.tool_calls[2].call_id == "call_three");
  BOOST_TEST(r.tool_calls[2].args_json == "{}"); // no arguments at all
  BOOST_TEST(r.tokens.input == 0u); // that server sent no usage
}

BOOST_AUTO_TEST_CASE(every_recorded_stream_decodes_the_same_however_it_is_split) {
  for (auto name : {"openai_text.sse", "openai_tools.sse", "openai_interleaved.sse",
                    "openai_index0_reused.sse", "openai_error.sse"}) {
    BOOST_TEST_CONTEXT(name) {
      auto body = recorded(name);
      check_every_split(openai, true, body);
      // The same events with CRLF or CR line ends mean the same.
      auto want = describe(decode_whole(openai, true, body).reply);
      BOOST_TEST(describe(decode_bytewise(openai, true, replace_all(body, "\n", "\r\n")).reply)
                 == want);
      BOOST_TEST(describe(decode_bytewise(openai, true, replace_all(body, "\n", "\r")).reply)
                 == want);
    }
  }
  check_every_split(openai, false, recorded("openai_tools.json"));
}

BOOST_AUTO_TEST_CASE(whole_reply_decodes) {
  auto streamed = decode_whole(openai, true, recorded("openai_tools.sse")).reply;
  auto d = decode_whole(openai, false, recorded("openai_tools.json"));
  BOOST_TEST(describe(d.reply) == describe(streamed));
  BOOST_TEST(d.delta_calls == 0u); // no text: nothing to show
  auto text = decode_whole(openai, false, R"({"choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}})");
  BOOST_TEST(text.reply.text == "Hi.");
  BOOST_TEST(text.deltas == "Hi."); // reported once, whole
  BOOST_TEST(text.delta_calls == 1u);
}

BOOST_AUTO_TEST_CASE(servers_without_ids_get_stable_ones_from_the_turn) {
  auto body = chunk(R"("delta":{"tool_calls":[{"index":0,"function":{"name":"a","arguments":"{}"}}]},"finish_reason":null)")
              + chunk(R"("delta":{"tool_calls":[{"index":1,"function":{"name":"b","arguments":""}}]},"finish_reason":null)")
              + "data: [DONE]\n\n";
  auto r = decode_whole(openai, true, body, 7).reply;
  BOOST_REQUIRE(r.tool_calls.size() == 2u);
  BOOST_TEST(r.tool_calls[0].call_id == "t7c1");
  BOOST_TEST(r.tool_calls[1].call_id == "t7c2");
  BOOST_TEST(r.tool_calls[1].args_json == "{}");
  // The same reply decoded again (a resume, a replay) gets the same ids.
  BOOST_TEST(describe(decode_whole(openai, true, body, 7).reply) == describe(r));
}

BOOST_AUTO_TEST_CASE(malformed_chunks_name_the_line_and_the_field) {
  auto ok = chunk(R"("delta":{"content":"a"},"finish_reason":null)");
  BOOST_TEST(failure_of(ok + ok + "data: {\"choices\": [\n\n")
             .find("malformed | openai stream: line 5: expected JSON after 'data: ' (") == 0u);
  BOOST_TEST(failure_of(ok + "data: [1,2]\n\n")
             == "malformed | openai stream: line 3: expected a JSON object after 'data: ', got an array");
  BOOST_TEST(failure_of(ok + "data: {\"id\":\"x\"}\n\n")
             == "malformed | openai stream: line 3: choices: missing");
  BOOST_TEST(failure_of(ok + "data: {\"choices\":{}}\n\n")
             == "malformed | openai stream: line 3: choices: expected an array, got an object");
  BOOST_TEST(failure_of(ok + chunk(R"("delta":{"content":5},"finish_reason":null)"))
             == "malformed | openai stream: line 3: choices[0].delta.content: expected a string, got a number");
  BOOST_TEST(failure_of(ok + chunk(R"("finish_reason":null)"))
             == "malformed | openai stream: line 3: choices[0].delta: missing");
  BOOST_TEST(failure_of(ok + chunk(R"("delta":{"tool_calls":[{"index":"0","id":"c","function":{"name":"f"}}]},"finish_reason":null)"))
             == "malformed | openai stream: line 3: choices[0].delta.tool_calls[0].index: expected an integer, got a string");
  BOOST_TEST(failure_of(ok + chunk(R"("delta":{"tool_calls":[{"index":0,"id":"c","function":{"arguments":7}}]},"finish_reason":null)"))
             == "malformed | openai stream: line 3: choices[0].delta.tool_calls[0].function.arguments: expected a string, got a number");
  BOOST_TEST(failure_of(ok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1}}\n\n")
             == "malformed | openai stream: line 3: usage.prompt_tokens: expected a count (an integer >= 0), got a number");
  BOOST_TEST(failure_of(ok + chunk(R"("delta":{"tool_calls":[{"index":0,"id":"c","function":{"arguments":"{}"}}]},"finish_reason":null)") + "data: [DONE]\n\n")
             == "malformed | openai stream: tool call 1 has no function name");
  BOOST_TEST(failure_of("data: {\"choices\":[{\"index\":0,\"delta\":" + std::string(500, '[') + "}]}\n\n")
             == "malformed | openai stream: line 1: expected JSON after 'data: ' (nested deeper than 128)");
}

BOOST_AUTO_TEST_CASE(a_stream_cut_anywhere_before_done_is_truncated) {
  auto body = recorded("openai_tools.sse");
  auto done = body.find("data: [DONE]") + std::string("data: [DONE]").size();
  size_t malformed = 0;
  for (size_t k = 0; k < done; ++k) {
    auto r = decode_whole(openai, true, body.substr(0, k)).reply;
    malformed += r.failure == "malformed";
  }
  BOOST_TEST(malformed == done);
  BOOST_TEST(failure_of(body.substr(0, body.find("data: [DONE]")))
             == "malformed | openai stream: the stream ended after line 24 without 'data: [DONE]' (truncated)");
  BOOST_TEST(failure_of("") == "malformed | openai stream: no events, and no 'data: [DONE]'");
}

BOOST_AUTO_TEST_CASE(an_error_in_the_stream_is_classified) {
  BOOST_TEST(failure_of(recorded("openai_error.sse"))
             == "server_error | openai stream: line 5: the server sent an error: server_error: The server had an error while processing your request. Sorry about that!");
  auto ok = chunk(R"("delta":{"content":"a"},"finish_reason":null)");
  BOOST_TEST(failure_of(ok + R"(data: {"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})" "\n\n")
             .find("quota_exhausted | ") == 0u);
  BOOST_TEST(failure_of(ok + R"(data: {"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}})" "\n\n")
             .find("rate_limited | ") == 0u);
  // vLLM's error object; its code is the status it would have sent.
  BOOST_TEST(failure_of(ok + R"(data: {"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400})" "\n\n")
             == "bad_request | openai stream: line 3: the server sent an error: BadRequestError: This model's maximum context length is 4096 tokens.");
  // An error object as a whole 200 body.
  BOOST_TEST(failure_of(R"({"error":{"message":"The engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}})", false)
             == "server_error | openai reply: the server sent an error: server_error: The engine is currently overloaded, please try again later.");
}

BOOST_AUTO_TEST_CASE(a_page_that_is_not_an_event_stream_is_malformed) {
  auto html = "<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Sign in</body></html>\n";
  BOOST_TEST(failure_of(html)
             == "malformed | openai stream: no events, and no 'data: [DONE]' (the body began with '<!DOCTYPE html>\\x0a<html><head><title>Login</title></head><body')");
  BOOST_TEST(failure_of(html, false).find("malformed | openai reply: expected a JSON object (the body began with '<!DOCTYPE html>") == 0u);
  BOOST_TEST(failure_of("", false) == "malformed | openai reply: empty body");
  BOOST_TEST(failure_of("[]", false) == "malformed | openai reply: expected a JSON object, got an array");
  BOOST_TEST(failure_of(R"({"choices":[]})", false) == "malformed | openai reply: choices: no choice with index 0");
}

BOOST_AUTO_TEST_CASE(what_follows_done_is_ignored) {
  auto body = chunk(R"("delta":{"content":"a"},"finish_reason":"stop")") + "data: [DONE]\n\ndata: {garbage\n\n";
  auto r = decode_whole(openai, true, body).reply;
  BOOST_TEST(r.failure == "");
  BOOST_TEST(r.text == "a");
}

BOOST_AUTO_TEST_CASE(a_line_over_8_mib_is_malformed_not_unbounded) {
  auto dec = troupe::providers::make_decoder(openai, true, troupe::test::call_of_turn(1));
  dec->feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
  std::string mib(1 << 20, 'x');
  for (int i = 0; i < 9; ++i)
    dec->feed(mib);
  auto r = dec->finish();
  BOOST_TEST(r.failure == "malformed");
  BOOST_TEST(r.failure_detail == "openai stream: line 1 is longer than 8388608 bytes");
}

BOOST_AUTO_TEST_CASE(a_reply_over_16_mib_is_malformed) {
  auto dec = troupe::providers::make_decoder(openai, true, troupe::test::call_of_turn(1));
  auto line = chunk(R"("delta":{"content":")" + std::string(1 << 20, 'y') + R"("},"finish_reason":null)");
  for (int i = 0; i < 17; ++i)
    dec->feed(line);
  auto r = dec->finish();
  BOOST_TEST(r.failure == "malformed");
  BOOST_TEST(r.failure_detail == "openai stream: line 33: the reply's text and tool arguments exceed 16777216 bytes");
  BOOST_TEST(r.text.empty());
}

BOOST_AUTO_TEST_CASE(a_throwing_display_callback_cannot_escape) {
  auto dec = troupe::providers::make_decoder(openai, true, troupe::test::call_of_turn(1),
                                             [](std::string_view) { throw std::runtime_error("tty gone"); });
  BOOST_CHECK_NO_THROW(dec->feed(chunk(R"("delta":{"content":"a"},"finish_reason":null)")));
  auto r = dec->finish();
  BOOST_TEST(r.failure == "malformed");
  BOOST_TEST(r.failure_detail == "openai stream: line 1: tty gone");
}

BOOST_AUTO_TEST_SUITE_END()
