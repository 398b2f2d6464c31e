// Reading MCP results: version negotiation, tools/list pages (tolerant of
// what real servers get wrong), tools/call results and errors.
#include "core/mcp/mcp_replies.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

#include "schemas/errors.hpp"

using nlohmann::json;
using troupe::mcp_errc;

namespace {

json init_result(const std::string& version) {
  return json::parse(R"({"protocolVersion":")" + version + R"(",
    "capabilities":{"tools":{"listChanged":true},"logging":{}},
    "serverInfo":{"name":"mcp-servers/everything","title":"Everything","version":"2.0.0"},
    "instructions":"use echo"})");
}

std::string render_error(const caf::error& e) {
  return troupe::render(e);
}

} // namespace

BOOST_AUTO_TEST_SUITE(mcp_replies)

BOOST_AUTO_TEST_CASE(every_version_we_speak_is_accepted) {
  for (const auto& v : troupe::mcp_protocol_versions()) {
    auto info = troupe::negotiate_version(init_result(v));
    BOOST_REQUIRE_MESSAGE(info, troupe::render(info));
    BOOST_TEST(info->protocol_version == v);
  }
  auto info = troupe::negotiate_version(init_result("2025-06-18"));
  BOOST_TEST(info->name == "mcp-servers/everything");
  BOOST_TEST(info->title == "Everything");
  BOOST_TEST(info->version == "2.0.0");
  BOOST_TEST(info->has_tools);
  BOOST_TEST(info->list_changed);
  BOOST_TEST(info->instructions == "use echo");
}

BOOST_AUTO_TEST_CASE(an_unsupported_version_names_both_sides) {
  auto info = troupe::negotiate_version(init_result("2024-11-05"));
  BOOST_REQUIRE(!info);
  BOOST_CHECK(info.error() == mcp_errc::unsupported_version);
  std::string msg = render_error(info.error());
  BOOST_TEST(msg.find("'2024-11-05'") != std::string::npos, msg);
  BOOST_TEST(msg.find("2025-11-25") != std::string::npos, msg);
  BOOST_TEST(msg.find("2025-06-18") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(an_initialize_result_without_a_version_is_malformed) {
  for (json bad : {json(nullptr), json::array(), json::parse(R"({"protocolVersion":20250618})"),
                   json::parse(R"({"capabilities":{}})")}) {
    auto info = troupe::negotiate_version(bad);
    BOOST_REQUIRE(!info);
    BOOST_CHECK(info.error() == mcp_errc::malformed_reply);
  }
}

BOOST_AUTO_TEST_CASE(a_server_without_tools_or_info_is_still_read) {
  auto info = troupe::negotiate_version(json::parse(R"({"protocolVersion":"2025-11-25"})"));
  BOOST_REQUIRE(info);
  BOOST_TEST(!info->has_tools);
  BOOST_TEST(!info->list_changed);
  BOOST_TEST(info->name.empty());
}

BOOST_AUTO_TEST_CASE(a_tools_page_keeps_schema_annotations_and_cursor) {
  auto page = troupe::parse_tools_page(json::parse(R"({"tools":[
    {"name":"echo","title":"Echo Tool","description":"Echoes",
     "inputSchema":{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]},
     "annotations":{"readOnlyHint":true,"destructiveHint":false,"idempotentHint":true,"openWorldHint":false}},
    {"name":"write","inputSchema":{"type":"object"},"annotations":{"destructiveHint":true}}],
    "nextCursor":"c2"})"));
  BOOST_REQUIRE_MESSAGE(page, troupe::render(page));
  BOOST_REQUIRE_EQUAL(page->tools.size(), 2u);
  const auto& echo = page->tools[0];
  BOOST_TEST(echo.name == "echo");
  BOOST_TEST(echo.title == "Echo Tool");
  BOOST_TEST(echo.description == "Echoes");
  BOOST_TEST(echo.input_schema["required"][0] == "message");
  BOOST_TEST(echo.annotations.read_only.value());
  BOOST_TEST(!echo.annotations.destructive.value());
  BOOST_TEST(echo.annotations.idempotent.value());
  BOOST_TEST(!echo.annotations.open_world.value());
  const auto& write = page->tools[1];
  BOOST_TEST(!write.annotations.read_only.has_value());
  BOOST_TEST(write.annotations.destructive.value());
  BOOST_TEST(page->next_cursor == "c2");
  BOOST_TEST(page->warnings.empty());
}

BOOST_AUTO_TEST_CASE(tools_without_a_name_are_skipped_and_named) {
  auto page = troupe::parse_tools_page(json::parse(R"({"tools":[
    {"description":"nameless"}, 7, {"name":""}, {"name":3},
    {"name":"noschema"}, {"name":"badschema","inputSchema":"x",
     "annotations":{"readOnlyHint":"yes","title":"Old Title"}}]})"));
  BOOST_REQUIRE(page);
  BOOST_REQUIRE_EQUAL(page->tools.size(), 2u);
  BOOST_TEST(page->tools[0].name == "noschema");
  BOOST_TEST(page->tools[0].input_schema == (json{{"type", "object"}}));
  BOOST_TEST(page->tools[1].input_schema == (json{{"type", "object"}}));
  BOOST_TEST(!page->tools[1].annotations.read_only.has_value()); // not a boolean
  BOOST_TEST(page->tools[1].title == "Old Title");
  BOOST_TEST(page->next_cursor.empty());
  BOOST_REQUIRE_EQUAL(page->warnings.size(), 5u);
  BOOST_TEST(page->warnings[0] == "tools[0]: no string 'name'; skipped");
  BOOST_TEST(page->warnings[1] == "tools[1]: a number, not an object; skipped");
  BOOST_TEST(page->warnings[4].find("tools[5] 'badschema'") == 0, page->warnings[4]);
}

BOOST_AUTO_TEST_CASE(a_tools_result_without_a_tools_array_is_malformed) {
  for (json bad : {json(nullptr), json::parse(R"({"tools":{}})"), json::parse("{}")}) {
    auto page = troupe::parse_tools_page(bad);
    BOOST_REQUIRE(!page);
    BOOST_CHECK(page.error() == mcp_errc::malformed_reply);
  }
  auto odd_cursor = troupe::parse_tools_page(json::parse(R"({"tools":[],"nextCursor":2})"));
  BOOST_REQUIRE(odd_cursor);
  BOOST_TEST(odd_cursor->next_cursor.empty());
  BOOST_TEST(odd_cursor->warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(text_blocks_are_joined_and_other_blocks_summarized) {
  auto r = troupe::parse_call_result(json::parse(R"({"content":[
    {"type":"text","text":"first"},
    {"type":"image","data":"iVBORw0KGgo=","mimeType":"image/png"},
    {"type":"audio","data":"AAAA AAAA","mimeType":"audio/wav"},
    {"type":"resource_link","uri":"demo://resource/1","name":"r1"},
    {"type":"resource","resource":{"uri":"demo://t","mimeType":"text/plain","text":"embedded"}},
    {"type":"resource","resource":{"uri":"demo://b","mimeType":"application/gzip","blob":"AAAA"}},
    {"type":"hologram"},
    {"type":"text","text":"last"}]})"));
  BOOST_TEST(r.answered);
  BOOST_TEST(!r.is_error);
  BOOST_TEST(r.error.empty());
  BOOST_TEST(r.text
             == "first\n[image image/png, 8 bytes]\n[audio audio/wav, 6 bytes]\n"
                "[resource_link demo://resource/1]\nembedded\n"
                "[resource demo://b application/gzip]\n[hologram content]\nlast");
}

BOOST_AUTO_TEST_CASE(structured_content_stands_in_when_there_is_no_text) {
  auto only = troupe::parse_call_result(
    json::parse(R"({"content":[],"structuredContent":{"temperature":22.5,"conditions":"sunny"}})"));
  BOOST_TEST(only.text == R"({"conditions":"sunny","temperature":22.5})");
  auto with_text = troupe::parse_call_result(json::parse(
    R"({"content":[{"type":"text","text":"22.5 C"}],"structuredContent":{"t":22.5}})"));
  BOOST_TEST(with_text.text == "22.5 C");
  auto image = troupe::parse_call_result(json::parse(
    R"({"content":[{"type":"image","data":"","mimeType":"image/png"}],"structuredContent":[1]})"));
  BOOST_TEST(image.text == "[image image/png, 0 bytes]\n[1]");
}

BOOST_AUTO_TEST_CASE(is_error_marks_a_failed_result) {
  auto r = troupe::parse_call_result(json::parse(
    R"({"content":[{"type":"text","text":"MCP error -32602: Tool nope not found"}],"isError":true})"));
  BOOST_TEST(r.answered);
  BOOST_TEST(r.is_error);
  BOOST_TEST(r.text == "MCP error -32602: Tool nope not found");
}

BOOST_AUTO_TEST_CASE(a_json_rpc_error_is_an_answered_failure) {
  auto in = troupe::classify_mcp_message(
    R"({"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"Unknown tool: nope"}})");
  auto r = troupe::parse_call_result(in);
  BOOST_TEST(r.answered);
  BOOST_TEST(r.is_error);
  BOOST_TEST(r.text == "error -32602: Unknown tool: nope");
  BOOST_TEST(r.error == r.text);
  BOOST_TEST(!r.retryable);
}

BOOST_AUTO_TEST_CASE(a_result_that_is_no_object_is_a_failure_saying_so) {
  auto r = troupe::parse_call_result(json("done"));
  BOOST_TEST(r.answered);
  BOOST_TEST(r.is_error);
  BOOST_TEST(r.text.find("a string, not an object") != std::string::npos, r.text);
  auto empty = troupe::parse_call_result(json::object());
  BOOST_TEST(!empty.is_error);
  BOOST_TEST(empty.text.empty());
}

BOOST_AUTO_TEST_CASE(base64_sizes_count_padding_and_ignore_whitespace) {
  BOOST_TEST(troupe::base64_decoded_size("") == 0u);
  BOOST_TEST(troupe::base64_decoded_size("AAAA") == 3u);
  BOOST_TEST(troupe::base64_decoded_size("AA==") == 1u);
  BOOST_TEST(troupe::base64_decoded_size("AAA=") == 2u);
  BOOST_TEST(troupe::base64_decoded_size("AAAA\nAA==") == 4u);
  BOOST_TEST(troupe::base64_decoded_size("AAA") == 2u); // unpadded
}

BOOST_AUTO_TEST_SUITE_END()
