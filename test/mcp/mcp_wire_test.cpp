// The MCP client's JSON-RPC messages: what troupe sends, and how one message
// from a server is classified (responses, notifications, server requests,
// malformed JSON-RPC, lines that are not JSON at all).
#include "core/mcp/mcp_wire.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

#include "core/mcp/mcp_types.hpp"

using nlohmann::json;
using troupe::mcp_incoming_kind;

namespace {

troupe::mcp_incoming classify(const std::string& text) {
  return troupe::classify_mcp_message(text);
}

} // namespace

BOOST_AUTO_TEST_SUITE(mcp_wire)

BOOST_AUTO_TEST_CASE(initialize_offers_the_newest_version_and_no_capabilities) {
  json m = troupe::mcp_initialize_request(1, "0.1.0");
  BOOST_TEST(m["jsonrpc"] == "2.0");
  BOOST_TEST(m["id"] == 1);
  BOOST_TEST(m["method"] == "initialize");
  BOOST_TEST(m["params"]["protocolVersion"] == troupe::mcp_protocol_versions().front());
  BOOST_TEST(m["params"]["protocolVersion"] == "2025-11-25");
  BOOST_TEST(m["params"]["capabilities"] == json::object());
  BOOST_TEST(m["params"]["clientInfo"] == (json{{"name", "troupe"}, {"version", "0.1.0"}}));
}

BOOST_AUTO_TEST_CASE(notifications_carry_no_id) {
  json init = troupe::mcp_initialized_notification();
  BOOST_TEST(init["method"] == "notifications/initialized");
  BOOST_TEST(!init.contains("id"));
  json cancel = troupe::mcp_cancelled_notification(7, "timed out after 50 ms");
  BOOST_TEST(!cancel.contains("id"));
  BOOST_TEST(cancel["method"] == "notifications/cancelled");
  BOOST_TEST(cancel["params"] == (json{{"requestId", 7}, {"reason", "timed out after 50 ms"}}));
}

BOOST_AUTO_TEST_CASE(tools_list_sends_the_cursor_only_after_the_first_page) {
  json first = troupe::mcp_tools_list_request(2, "");
  BOOST_TEST(first["method"] == "tools/list");
  BOOST_TEST(!first.contains("params"));
  json next = troupe::mcp_tools_list_request(3, "page-2");
  BOOST_TEST(next["params"]["cursor"] == "page-2");
}

BOOST_AUTO_TEST_CASE(tools_call_always_sends_an_arguments_object) {
  json call = troupe::mcp_tools_call_request(4, "echo", json{{"message", "hi"}});
  BOOST_TEST(call["method"] == "tools/call");
  BOOST_TEST(call["params"]["name"] == "echo");
  BOOST_TEST(call["params"]["arguments"]["message"] == "hi");
  json bare = troupe::mcp_tools_call_request(5, "noargs", nullptr);
  BOOST_TEST(bare["params"]["arguments"] == json::object());
  BOOST_TEST(troupe::mcp_ping_request(6)["method"] == "ping");
}

BOOST_AUTO_TEST_CASE(serialized_messages_are_one_line_even_with_bad_utf8) {
  json call = troupe::mcp_tools_call_request(1, "echo", json{{"message", "a\nb\xff"}});
  std::string line = troupe::mcp_serialize(call);
  BOOST_TEST(line.find('\n') == std::string::npos);
  BOOST_TEST(line.find("a\\nb") != std::string::npos);
  BOOST_TEST(json::parse(line)["params"]["arguments"]["message"] == "a\nb\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(a_result_is_a_response) {
  auto in = classify(R"({"jsonrpc":"2.0","id":3,"result":{"tools":[]}})");
  BOOST_TEST(to_string(in.kind) == "response");
  BOOST_TEST(in.id == 3);
  BOOST_TEST(in.result == (json{{"tools", json::array()}}));
  BOOST_TEST(!in.error.has_value());
  BOOST_TEST(troupe::mcp_our_id(in.id).value() == 3u);
}

BOOST_AUTO_TEST_CASE(an_error_is_a_response_with_code_message_and_data) {
  auto in = classify(
    R"({"jsonrpc":"2.0","id":"9","error":{"code":-32602,"message":"bad","data":{"x":1}}})");
  BOOST_TEST(to_string(in.kind) == "response");
  BOOST_REQUIRE(in.error.has_value());
  BOOST_TEST(in.error->code == -32602);
  BOOST_TEST(in.error->message == "bad");
  BOOST_TEST(in.error->data["x"] == 1);
  BOOST_TEST(troupe::mcp_our_id(in.id).value() == 9u); // a string id echoed back
}

BOOST_AUTO_TEST_CASE(an_error_to_an_unreadable_message_has_a_null_id) {
  auto in = classify(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})");
  BOOST_TEST(to_string(in.kind) == "response");
  BOOST_TEST(in.id.is_null());
  BOOST_TEST(!troupe::mcp_our_id(in.id).has_value());
}

BOOST_AUTO_TEST_CASE(notifications_and_server_requests) {
  auto note = classify(R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})");
  BOOST_TEST(to_string(note.kind) == "notification");
  BOOST_TEST(note.method == "notifications/tools/list_changed");
  BOOST_TEST(note.params.is_null());
  auto req = classify(R"({"jsonrpc":"2.0","id":"s-1","method":"roots/list","params":{}})");
  BOOST_TEST(to_string(req.kind) == "request");
  BOOST_TEST(req.id == "s-1");
  BOOST_TEST(req.method == "roots/list");
  BOOST_TEST(req.params == json::object());
}

BOOST_AUTO_TEST_CASE(a_missing_jsonrpc_member_is_tolerated_a_wrong_one_is_not) {
  BOOST_TEST(to_string(classify(R"({"id":1,"result":{}})").kind) == "response");
  auto wrong = classify(R"({"jsonrpc":"1.0","id":1,"result":{}})");
  BOOST_TEST(to_string(wrong.kind) == "malformed");
  BOOST_TEST(wrong.reason.find("jsonrpc") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(lines_that_are_not_json_are_their_own_kind) {
  auto in = classify("Server listening on stdio\x01");
  BOOST_TEST(to_string(in.kind) == "not_json");
  BOOST_TEST(in.reason.find("Server listening on stdio\\x01") != std::string::npos);
  BOOST_TEST(to_string(classify("").kind) == "not_json");
  BOOST_TEST(to_string(classify(R"({"id":1,"result":)").kind) == "not_json");
}

BOOST_AUTO_TEST_CASE(json_that_is_no_message_is_malformed_with_a_reason) {
  struct bad {
    const char* text;
    const char* reason;
  };
  for (auto b : {bad{"42", "a number"},
                 bad{R"([{"jsonrpc":"2.0","id":1,"result":{}}])", "batch"},
                 bad{R"({"jsonrpc":"2.0"})", "neither"},
                 bad{R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}})", "both"},
                 bad{R"({"jsonrpc":"2.0","result":{}})", "without an 'id'"},
                 bad{R"({"jsonrpc":"2.0","id":{"a":1},"result":{}})", "an object"},
                 bad{R"({"jsonrpc":"2.0","id":1,"error":"boom"})", "'error' is a string"},
                 bad{R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})", "error.code"},
                 bad{R"({"jsonrpc":"2.0","method":5})", "'method' is a number"},
                 bad{R"({"jsonrpc":"2.0","id":null,"method":"ping"})", "'id' is null"}}) {
    auto in = classify(b.text);
    BOOST_TEST(to_string(in.kind) == "malformed", b.text);
    BOOST_TEST(in.reason.find(b.reason) != std::string::npos, b.text << " -> " << in.reason);
  }
}

BOOST_AUTO_TEST_CASE(nesting_beyond_the_limit_is_refused_before_parsing) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto in = classify(deep);
  BOOST_TEST(to_string(in.kind) == "malformed");
  BOOST_TEST(in.reason.find("nested deeper") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_non_negative_integers_and_digit_strings_are_our_ids) {
  BOOST_TEST(!troupe::mcp_our_id(json(-1)).has_value());
  BOOST_TEST(!troupe::mcp_our_id(json("a1")).has_value());
  BOOST_TEST(!troupe::mcp_our_id(json("")).has_value());
  BOOST_TEST(!troupe::mcp_our_id(json(1.5)).has_value());
  BOOST_TEST(troupe::mcp_our_id(json(uint64_t{1} << 40)).value() == uint64_t{1} << 40);
}

BOOST_AUTO_TEST_CASE(server_ping_is_answered_with_an_empty_result) {
  auto req = classify(R"({"jsonrpc":"2.0","id":"p1","method":"ping"})");
  json answer = troupe::mcp_answer_server_request(req);
  BOOST_TEST(answer == (json{{"jsonrpc", "2.0"}, {"id", "p1"}, {"result", json::object()}}));
}

BOOST_AUTO_TEST_CASE(unsupported_server_requests_are_answered_method_not_found) {
  for (const char* method : {"roots/list", "sampling/createMessage", "elicitation/create"}) {
    json req{{"jsonrpc", "2.0"}, {"id", 12}, {"method", method}, {"params", json::object()}};
    json answer = troupe::mcp_answer_server_request(troupe::classify_mcp_json(req));
    BOOST_TEST(answer["id"] == 12);
    BOOST_TEST(!answer.contains("result"));
    BOOST_TEST(answer["error"]["code"] == -32601);
    BOOST_TEST(answer["error"]["message"].get<std::string>().find(method) != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
