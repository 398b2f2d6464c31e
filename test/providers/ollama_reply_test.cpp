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

constexpr auto ollama = provider_kind::ollama;

std::string failure_of(const std::string& body, bool stream = true) {
  auto r = decode_whole(ollama, stream, body).reply;
  return r.failure + " | " + r.failure_detail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ollama_replies)

BOOST_AUTO_TEST_CASE(text_stream_decodes_with_counts) {
  auto d = decode_whole(ollama, true, recorded("ollama_text.ndjson"));
  BOOST_TEST(d.reply.failure == "");
  BOOST_TEST(d.reply.text == "The sky is blue because of Rayleigh scattering.");
  BOOST_TEST(d.reply.finish_reason == "stop");
  BOOST_TEST(d.reply.tokens.input == 26u);
  BOOST_TEST(d.reply.tokens.output == 12u);
  BOOST_TEST(d.deltas == d.reply.text);
}

BOOST_AUTO_TEST_CASE(tool_calls_without_ids_get_ids_from_the_turn) {
  auto d = decode_whole(ollama, true, recorded("ollama_tools.ndjson"), 4);
  troupe::model_response want;
  want.finish_reason = "stop";
  want.tokens = {212, 41};
  want.tool_calls = {{"t4c1", "read_file", R"({"path":"a.txt","limit":20})"},
                     {"t4c2", "list_dir", "{}"}};
  BOOST_TEST(describe(d.reply) == describe(want));
  BOOST_TEST(d.empty_first == 1u);
  // Decoded again, as a resumed run would: the same ids.
  BOOST_TEST(describe(decode_whole(ollama, true, recorded("ollama_tools.ndjson"), 4).reply)
             == describe(want));
}

BOOST_AUTO_TEST_CASE(tool_calls_with_ids_keep_them) {
  auto r = decode_whole(ollama, true, recorded("ollama_tools_ids.ndjson"), 4).reply;
  BOOST_TEST(r.failure == "");
  BOOST_TEST(r.text == "Reading it now.");
  BOOST_REQUIRE(r.tool_calls.size() == 1u);
  BOOST_TEST(r.tool_calls[0].call_id == "call_k3m9xq2b");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"path":"a.txt"})");
}

BOOST_AUTO_TEST_CASE(every_recorded_stream_decodes_the_same_however_it_is_split) {
  for (auto name : {"ollama_text.ndjson", "ollama_tools.ndjson", "ollama_tools_ids.ndjson",
                    "ollama_error.ndjson"}) {
    BOOST_TEST_CONTEXT(name) {
      auto body = recorded(name);
      check_every_split(ollama, true, body);
      auto want = describe(decode_whole(ollama, true, body).reply);
      BOOST_TEST(describe(decode_bytewise(ollama, true, replace_all(body, "\n", "\r\n")).reply)
                 == want);
      // Blank lines between objects are skipped (they shift the line numbers).
      auto spaced = decode_whole(ollama, true, replace_all(body, "\n", "\n\n \n")).reply;
      BOOST_TEST(spaced.failure == decode_whole(ollama, true, body).reply.failure);
      spaced.failure_detail.clear();
      auto plain = decode_whole(ollama, true, body).reply;
      plain.failure_detail.clear();
      BOOST_TEST(describe(spaced) == describe(plain));
    }
  }
  check_every_split(ollama, false, recorded("ollama_tools.json"));
}

BOOST_AUTO_TEST_CASE(whole_reply_matches_the_stream) {
  auto streamed = decode_whole(ollama, true, recorded("ollama_tools.ndjson"), 4).reply;
  BOOST_TEST(describe(decode_whole(ollama, false, recorded("ollama_tools.json"), 4).reply)
             == describe(streamed));
}

BOOST_AUTO_TEST_CASE(an_error_line_is_classified) {
  BOOST_TEST(failure_of(recorded("ollama_error.ndjson"))
             == "server_error | ollama stream: line 2: the server sent an error: an error was encountered while running the model: unexpected EOF");
  BOOST_TEST(failure_of(R"({"error":"model 'qwen9' not found"})", false)
             == "server_error | ollama reply: the server sent an error: model 'qwen9' not found");
}

BOOST_AUTO_TEST_CASE(truncated_and_malformed_streams) {
  auto body = recorded("ollama_text.ndjson");
  auto last = body.rfind("{\"model\"");
  BOOST_TEST(failure_of(body.substr(0, last))
             == "malformed | ollama stream: the stream ended after line 9 without a done:true object (truncated)");
  size_t malformed = 0;
  for (size_t k = 0; k < body.size() - 1; ++k)
    malformed += decode_whole(ollama, true, body.substr(0, k)).reply.failure == "malformed";
  BOOST_TEST(malformed == body.size() - 1);

  BOOST_TEST(failure_of(R"({"message":{"role":"assistant","content":"a"}})")
             == "malformed | ollama stream: line 1: done: missing");
  BOOST_TEST(failure_of(R"({"message":{"content":5},"done":false})")
             == "malformed | ollama stream: line 1: message.content: expected a string, got a number");
  BOOST_TEST(failure_of(R"({"message":{"tool_calls":{}},"done":false})")
             == "malformed | ollama stream: line 1: message.tool_calls: expected an array, got an object");
  BOOST_TEST(failure_of(R"({"message":{"tool_calls":[{"name":"f"}]},"done":false})")
             == "malformed | ollama stream: line 1: message.tool_calls[0].function: missing");
  BOOST_TEST(failure_of("{\"done\":false}\n{\"done\":true,\"eval_count\":\"7\"}\n")
             == "malformed | ollama stream: line 2: eval_count: expected a count (an integer >= 0), got a string");
  BOOST_TEST(failure_of("{\"done\":false}\nnot json\n").find("malformed | ollama stream: line 2: expected a JSON object (") == 0u);
  BOOST_TEST(failure_of(R"({"done":false,"message":{"content":"a"}})", false)
             == "malformed | ollama reply: done: expected true in a whole reply");
}

BOOST_AUTO_TEST_CASE(string_arguments_are_kept_as_written) {
  auto body = R"({"message":{"content":"","tool_calls":[{"function":{"name":"f","arguments":"{\"a\": 1}"}}]},"done":true,"done_reason":"stop"})";
  auto r = decode_whole(ollama, false, body, 2).reply;
  BOOST_REQUIRE(r.tool_calls.size() == 1u);
  BOOST_TEST(r.tool_calls[0].call_id == "t2c1");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"a": 1})");
}

BOOST_AUTO_TEST_SUITE_END()
