#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/providers/wire.hpp"

using nlohmann::json;
using troupe::chat_message;
using troupe::chat_role;
using troupe::endpoint_config;
using troupe::model_call;
using troupe::provider_kind;
using troupe::providers::build_request;
using troupe::providers::header_list;

namespace {

chat_message tool_message(std::string id, std::string content, bool failed) {
  chat_message m{chat_role::tool, std::move(content), {}, std::move(id)};
  m.tool_error = failed;
  return m;
}

// A conversation with every kind of message: system, user, an assistant
// turn with text and two calls, their results (one failed), a reminder, an
// assistant call whose arguments were malformed, and its error result.
model_call conversation() {
  model_call c;
  c.run_id = "run-1";
  c.agent = "worker";
  c.model = "smart";
  c.turn = 3;
  c.request_index = 2;
  c.messages = {
    {chat_role::system, "You are terse.", {}, {}},
    {chat_role::user, "List the files, then read a.txt.", {}, {}},
    {chat_role::assistant,
     "Let me look.",
     {{"call_1", "list_dir", R"({"path":"."})"}, {"call_2", "read_file", R"({"path":"a.txt"})"}},
     {}},
    tool_message("call_1", "a.txt\nb.txt", false),
    tool_message("call_2", "error: no such file", true),
    {chat_role::user, "Reminder: end with a summary.", {}, {}},
    {chat_role::assistant, "", {{"t3c1", "read_file", R"({"path": "a.t)"}}, {}},
    tool_message("t3c1", "error: the arguments are not JSON", true),
  };
  c.tools = {
    {"list_dir", "Lists a directory.",
     R"({"type":"object","properties":{"path":{"type":"string"}},"required":["path"]})"},
    {"read_file", "Reads a file.",
     R"({"type":"object","properties":{"path":{"type":"string"},"limit":{"type":"integer"}},"required":["path"]})"},
  };
  return c;
}

endpoint_config endpoint(provider_kind p) {
  endpoint_config e;
  e.provider = p;
  e.max_output_tokens = 1024;
  return e;
}

json body_of(provider_kind p, const model_call& c, bool stream, std::string_view key = "") {
  auto req = build_request(endpoint(p), "model-x", c, key, stream);
  return json::parse(req.body);
}

const json list_dir_schema = json::parse(
  R"({"type":"object","properties":{"path":{"type":"string"}},"required":["path"]})");
const json read_file_schema = json::parse(
  R"({"type":"object","properties":{"path":{"type":"string"},"limit":{"type":"integer"}},"required":["path"]})");

} // namespace

BOOST_AUTO_TEST_SUITE(requests)

BOOST_AUTO_TEST_CASE(openai_body_is_chat_completions) {
  auto want = json::parse(R"({
    "model": "model-x",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "List the files, then read a.txt."},
      {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{\"path\":\".\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\nb.txt"},
      {"role": "tool", "tool_call_id": "call_2", "content": "error: no such file"},
      {"role": "user", "content": "Reminder: end with a summary."},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "t3c1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"a.t"}}]},
      {"role": "tool", "tool_call_id": "t3c1", "content": "error: the arguments are not JSON"}],
    "tools": [
      {"type": "function", "function": {"name": "list_dir", "description": "Lists a directory.", "parameters": {}}},
      {"type": "function", "function": {"name": "read_file", "description": "Reads a file.", "parameters": {}}}],
    "tool_choice": "auto",
    "parallel_tool_calls": true,
    "stream": true,
    "stream_options": {"include_usage": true}
  })");
  want["tools"][0]["function"]["parameters"] = list_dir_schema;
  want["tools"][1]["function"]["parameters"] = read_file_schema;
  BOOST_TEST(body_of(provider_kind::openai, conversation(), true).dump(2) == want.dump(2));

  want["stream"] = false;
  want.erase("stream_options");
  BOOST_TEST(body_of(provider_kind::openai, conversation(), false).dump(2) == want.dump(2));
}

BOOST_AUTO_TEST_CASE(anthropic_body_is_messages) {
  auto want = json::parse(R"({
    "model": "model-x",
    "max_tokens": 1024,
    "system": "You are terse.",
    "messages": [
      {"role": "user", "content": "List the files, then read a.txt."},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_1", "name": "list_dir", "input": {"path": "."}},
        {"type": "tool_use", "id": "call_2", "name": "read_file", "input": {"path": "a.txt"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt\nb.txt"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "error: no such file", "is_error": true},
        {"type": "text", "text": "Reminder: end with a summary."}]},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t3c1", "name": "read_file", "input": {}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t3c1", "content": "error: the arguments are not JSON", "is_error": true}]}],
    "tools": [
      {"name": "list_dir", "description": "Lists a directory.", "input_schema": {}},
      {"name": "read_file", "description": "Reads a file.", "input_schema": {}}],
    "stream": true
  })");
  want["tools"][0]["input_schema"] = list_dir_schema;
  want["tools"][1]["input_schema"] = read_file_schema;
  BOOST_TEST(body_of(provider_kind::anthropic, conversation(), true).dump(2) == want.dump(2));
  want["stream"] = false;
  BOOST_TEST(body_of(provider_kind::anthropic, conversation(), false).dump(2) == want.dump(2));
}

BOOST_AUTO_TEST_CASE(ollama_body_is_api_chat) {
  auto want = json::parse(R"({
    "model": "model-x",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "List the files, then read a.txt."},
      {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "call_1", "function": {"name": "list_dir", "arguments": {"path": "."}}},
        {"id": "call_2", "function": {"name": "read_file", "arguments": {"path": "a.txt"}}}]},
      {"role": "tool", "content": "a.txt\nb.txt", "tool_name": "list_dir", "tool_call_id": "call_1"},
      {"role": "tool", "content": "error: no such file", "tool_name": "read_file", "tool_call_id": "call_2"},
      {"role": "user", "content": "Reminder: end with a summary."},
      {"role": "assistant", "content": "", "tool_calls": [
        {"id": "t3c1", "function": {"name": "read_file", "arguments": {}}}]},
      {"role": "tool", "content": "error: the arguments are not JSON", "tool_name": "read_file", "tool_call_id": "t3c1"}],
    "tools": [
      {"type": "function", "function": {"name": "list_dir", "description": "Lists a directory.", "parameters": {}}},
      {"type": "function", "function": {"name": "read_file", "description": "Reads a file.", "parameters": {}}}],
    "stream": true
  })");
  want["tools"][0]["function"]["parameters"] = list_dir_schema;
  want["tools"][1]["function"]["parameters"] = read_file_schema;
  BOOST_TEST(body_of(provider_kind::ollama, conversation(), true).dump(2) == want.dump(2));
  // Ollama streams unless told not to: false is written out.
  want["stream"] = false;
  BOOST_TEST(body_of(provider_kind::ollama, conversation(), false).dump(2) == want.dump(2));
}

BOOST_AUTO_TEST_CASE(paths_and_headers_per_provider) {
  auto c = conversation();
  auto openai = build_request(endpoint(provider_kind::openai), "m", c, "sk-test", true);
  BOOST_TEST(openai.path == "/chat/completions");
  BOOST_TEST((openai.headers == header_list{{"content-type", "application/json"},
                                            {"authorization", "Bearer sk-test"}}));
  auto keyless = build_request(endpoint(provider_kind::openai), "m", c, "", true);
  BOOST_TEST((keyless.headers == header_list{{"content-type", "application/json"}}));

  auto e = endpoint(provider_kind::anthropic);
  e.anthropic_version = "2023-06-01";
  auto anthropic = build_request(e, "m", c, "sk-ant-test", false);
  BOOST_TEST(anthropic.path == "/v1/messages");
  BOOST_TEST((anthropic.headers == header_list{{"content-type", "application/json"},
                                               {"x-api-key", "sk-ant-test"},
                                               {"anthropic-version", "2023-06-01"}}));

  auto ollama = build_request(endpoint(provider_kind::ollama), "m", c, "", true);
  BOOST_TEST(ollama.path == "/api/chat");
  BOOST_TEST((ollama.headers == header_list{{"content-type", "application/json"}}));

  auto command = build_request(endpoint(provider_kind::command), "m", c, "", true);
  BOOST_TEST(command.path.empty());
  BOOST_TEST(command.body.empty());
}

BOOST_AUTO_TEST_CASE(without_tools_no_tool_fields_are_sent) {
  model_call c;
  c.messages = {{chat_role::user, "Hi", {}, {}}};
  for (auto p : {provider_kind::openai, provider_kind::anthropic, provider_kind::ollama}) {
    auto body = body_of(p, c, true);
    BOOST_TEST(!body.contains("tools"));
    BOOST_TEST(!body.contains("tool_choice"));
    BOOST_TEST(!body.contains("parallel_tool_calls"));
  }
  BOOST_TEST(!body_of(provider_kind::anthropic, c, true).contains("system"));
}

BOOST_AUTO_TEST_CASE(anthropic_joins_system_messages_skips_empty_assistant_turns_and_sanitizes_ids) {
  model_call c;
  c.messages = {
    {chat_role::system, "One.", {}, {}},
    {chat_role::user, "Hi", {}, {}},
    {chat_role::assistant, "", {}, {}},
    {chat_role::system, "Two.", {}, {}},
    {chat_role::user, "Again", {}, {}},
    {chat_role::assistant, "", {{"chatcmpl-tool:7.a", "list_dir", "{}"}}, {}},
    {chat_role::tool, "ok", {}, "chatcmpl-tool:7.a"},
  };
  auto body = body_of(provider_kind::anthropic, c, false);
  BOOST_TEST(body["system"] == "One.\n\nTwo.");
  auto want = json::parse(R"([
    {"role": "user", "content": "Hi"},
    {"role": "user", "content": "Again"},
    {"role": "assistant", "content": [
      {"type": "tool_use", "id": "chatcmpl-tool_7_a", "name": "list_dir", "input": {}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "chatcmpl-tool_7_a", "content": "ok"}]}])");
  BOOST_TEST(body["messages"].dump(2) == want.dump(2));
}

BOOST_AUTO_TEST_CASE(anthropic_max_tokens_comes_from_the_endpoint) {
  auto e = endpoint(provider_kind::anthropic);
  e.max_output_tokens = 777;
  auto req = build_request(e, "m", conversation(), "", true);
  BOOST_TEST(json::parse(req.body)["max_tokens"] == 777);
  e.max_output_tokens = 0;
  req = build_request(e, "m", conversation(), "", true);
  BOOST_TEST(json::parse(req.body)["max_tokens"] == 4096);
}

BOOST_AUTO_TEST_CASE(arguments_that_are_not_an_object_become_an_empty_object) {
  for (auto args : {"", "[1,2]", "\"text\"", "{\"a\":", "42"}) {
    model_call c;
    c.messages = {{chat_role::assistant, "", {{"c1", "f", args}}, {}}};
    auto a = body_of(provider_kind::anthropic, c, false);
    BOOST_TEST(a["messages"][0]["content"][0]["input"] == json::object(), args);
    auto o = body_of(provider_kind::ollama, c, false);
    BOOST_TEST(o["messages"][0]["tool_calls"][0]["function"]["arguments"] == json::object(), args);
    auto oa = body_of(provider_kind::openai, c, false);
    BOOST_TEST(oa["messages"][0]["tool_calls"][0]["function"]["arguments"] == args);
  }
  // Deeply nested arguments are not an object we pass on either.
  model_call c;
  c.messages = {{chat_role::assistant, "", {{"c1", "f", "{\"a\":" + std::string(1000, '[')}}, {}}};
  BOOST_TEST(body_of(provider_kind::anthropic, c, false)["messages"][0]["content"][0]["input"]
             == json::object());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_message_does_not_break_the_body) {
  model_call c;
  c.messages = {{chat_role::user, "bad \xC3\x28 byte", {}, {}}};
  for (auto p : {provider_kind::openai, provider_kind::anthropic, provider_kind::ollama}) {
    std::string body;
    BOOST_CHECK_NO_THROW(body = build_request(endpoint(p), "m", c, "", false).body);
    BOOST_TEST(json::accept(body));
  }
}

BOOST_AUTO_TEST_CASE(key_order_of_a_schema_is_kept) {
  model_call c;
  c.tools = {{"f", "", R"({"type":"object","required":["z"],"properties":{"z":{},"a":{}}})"}};
  auto req = build_request(endpoint(provider_kind::openai), "m", c, "", false);
  BOOST_TEST(req.body.find(R"({"type":"object","required":["z"],"properties":{"z":{},"a":{}}})")
             != std::string::npos);
  BOOST_TEST(req.body.find("description") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
