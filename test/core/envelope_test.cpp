#include "core/envelope.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

#include "core/builtin_tools.hpp"
#include "core/tool_registry.hpp"
#include "schemas/errors.hpp"
#include "test/support/text.hpp"

using nlohmann::json;
using namespace std::string_literals;
using troupe::prepare_call;
using troupe::render;
using troupe::runtime_errc;
using troupe::sanitize_text;
using troupe::test::contains;

namespace {

struct builtin_registry {
  builtin_registry() {
    auto err = troupe::register_builtin_tools(registry);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  troupe::tool_registry registry;

  // The error context of a failing call; fails the test if the call succeeds
  // or fails with another code.
  std::string error_of(std::string_view tool, std::string_view args,
                       runtime_errc code = runtime_errc::invalid_arguments) {
    auto res = prepare_call(registry, tool, args);
    BOOST_REQUIRE_MESSAGE(!res, "call unexpectedly succeeded: " << std::string{args});
    BOOST_CHECK(res.error() == code);
    return render(res.error());
  }
};

troupe::tool_definition dummy_tool(std::string name, json parameters) {
  return {std::move(name), "test tool", std::move(parameters), troupe::tool_effect::pure,
          [](const json&, const troupe::tool_context&) { return troupe::tool_outcome{}; }};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(envelope, builtin_registry)

// -- registry ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(registry_lists_and_finds_tools) {
  BOOST_TEST(registry.size() == 7u);
  auto names = registry.names();
  BOOST_TEST(names == (std::vector<std::string>{"append_file", "complete", "delegate", "echo",
                                                 "list_dir", "read_file", "write_file"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(registry.find("write_file") != nullptr);
  BOOST_TEST(registry.find("write_file")->name == "write_file");
  BOOST_CHECK(registry.find("write_file")->effect == troupe::tool_effect::idempotent);
  BOOST_CHECK(registry.find("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(registry_rejects_bad_definitions) {
  auto err = registry.add(dummy_tool("echo", {{"type", "object"}}));
  BOOST_CHECK(err == runtime_errc::invalid_arguments);
  BOOST_TEST(contains(render(err), "already registered"));
  err = registry.add(dummy_tool("", {{"type", "object"}}));
  BOOST_TEST(render(err) == "cannot register a tool with an empty name");
  err = registry.add(dummy_tool("has space", {{"type", "object"}}));
  BOOST_TEST(contains(render(err), "[A-Za-z0-9_-]{1,64}"));
  err = registry.add(dummy_tool(std::string(65, 'a'), {{"type", "object"}}));
  BOOST_CHECK(err == runtime_errc::invalid_arguments);
  err = registry.add(dummy_tool("fmt", json::parse(
    R"({"type": "object", "properties": {"u": {"type": "string", "format": "uri"}}})")));
  BOOST_TEST(render(err) == "cannot register tool 'fmt': parameters schema /properties/u: "
                            "unsupported keyword 'format' (not enforced by troupe's "
                            "validator)");
  err = registry.add(dummy_tool("str", {{"type", "string"}}));
  BOOST_TEST(contains(render(err), "\"type\": \"object\""));
  err = registry.add(dummy_tool("untyped", json::object()));
  BOOST_CHECK(err == runtime_errc::invalid_arguments);
  auto no_handler = dummy_tool("nohandler", {{"type", "object"}});
  no_handler.handler = nullptr;
  err = registry.add(no_handler);
  BOOST_TEST(contains(render(err), "no handler"));
  BOOST_TEST(registry.size() == 7u);
  BOOST_CHECK(!registry.add(dummy_tool("my-tool_2", {{"type", "object"}})));
  BOOST_TEST(registry.size() == 8u);
}

// -- prepare_call: success -----------------------------------------------------

BOOST_AUTO_TEST_CASE(valid_call_returns_normalized_arguments) {
  auto res = prepare_call(registry, "write_file", R"({ "path" : "a.txt",
                                                      "content": "hi\n" })");
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->dump() == R"({"content":"hi\n","path":"a.txt"})");
}

BOOST_AUTO_TEST_CASE(normalization_is_deterministic) {
  auto a = prepare_call(registry, "echo", R"({"b": [1, 2.5, "x"], "a": {"z": null, "y": true}})");
  auto b = prepare_call(registry, "echo", "{\"a\":{\"y\":true,\"z\":null},\n\"b\":[1,2.5,\"x\"]}");
  BOOST_REQUIRE(a && b);
  BOOST_TEST(a->dump() == b->dump());
  BOOST_TEST(a->dump() == R"({"a":{"y":true,"z":null},"b":[1,2.5,"x"]})");
}

BOOST_AUTO_TEST_CASE(whitespace_is_kept_inside_strings) {
  auto res = prepare_call(registry, "write_file",
                          R"({"path": " spaced.txt ", "content": "  a\tb\r\n  "})");
  BOOST_REQUIRE(res);
  BOOST_TEST((*res)["path"].get<std::string>() == " spaced.txt ");
  BOOST_TEST((*res)["content"].get<std::string>() == "  a\tb\r\n  ");
}

BOOST_AUTO_TEST_CASE(empty_argument_text_means_empty_object) {
  auto res = prepare_call(registry, "list_dir", "");
  BOOST_REQUIRE(res);
  BOOST_TEST(res->dump() == "{}");
  BOOST_CHECK(prepare_call(registry, "list_dir", " \n "));
  BOOST_TEST(error_of("read_file", "")
             == "arguments of 'read_file' do not match its schema: "
                "/: missing required property 'path'");
}

// -- prepare_call: malformed JSON ----------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_json_names_tool_and_byte) {
  auto msg = error_of("write_file", R"({"path" "a.txt"})");
  // nlohmann counts from 1 and reports the end of the offending token.
  BOOST_TEST(msg == "arguments of 'write_file' are not valid JSON at byte 15: syntax error "
                    "while parsing object separator - unexpected string literal; expected "
                    "':' (near '{\"path\" \"a.txt\"')");
  msg = error_of("write_file", R"({"path": "a.txt", )");
  BOOST_TEST(contains(msg, "are not valid JSON at byte"), msg);
  msg = error_of("echo", "{} trailing");
  BOOST_TEST(contains(msg, "are not valid JSON at byte"), msg);
  msg = error_of("echo", "{'single': 1}");
  BOOST_TEST(contains(msg, "are not valid JSON at byte 2"), msg);
}

BOOST_AUTO_TEST_CASE(raw_control_characters_and_bad_utf8_are_not_json) {
  // JSON forbids raw control characters and invalid UTF-8 inside strings;
  // the parser rejects both with a position.
  auto msg = error_of("echo", "{\"a\": \"x\x01y\"}");
  BOOST_TEST(contains(msg, "not valid JSON at byte"), msg);
  msg = error_of("echo", "{\"a\": \"x\xFFy\"}");
  BOOST_TEST(contains(msg, "not valid JSON at byte"), msg);
  msg = error_of("echo", R"({"a": "\ud800"})"); // lone surrogate
  BOOST_TEST(contains(msg, "not valid JSON at byte"), msg);
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_ambiguous) {
  auto msg = error_of("write_file", R"({"path": "a", "content": "x", "path": "b"})");
  BOOST_TEST(msg == "arguments of 'write_file' are ambiguous: property 'path' appears "
                    "more than once in the same object");
  // The same key in different objects is fine.
  BOOST_CHECK(prepare_call(registry, "echo", R"({"a": {"k": 1}, "b": {"k": 2}})"));
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_rejected) {
  std::string deep(40, '[');
  deep = "{\"a\": " + deep + std::string(40, ']') + "}";
  auto msg = error_of("echo", deep);
  BOOST_TEST(msg == "arguments of 'echo' nest deeper than 32 levels");
  std::string ok(10, '[');
  ok = "{\"a\": " + ok + std::string(10, ']') + "}";
  BOOST_CHECK(prepare_call(registry, "echo", ok));
}

BOOST_AUTO_TEST_CASE(depth_limit_is_exact) {
  // `levels` of nesting inside the argument object, which is level 1.
  auto nested = [](int levels) {
    return std::string(levels - 1, '[') + "{}" + std::string(levels - 1, ']');
  };
  BOOST_CHECK(prepare_call(registry, "echo", "{\"a\": " + nested(31) + "}"));
  error_of("echo", "{\"a\": " + nested(32) + "}");
}

BOOST_AUTO_TEST_CASE(numbers_out_of_range_are_rejected) {
  BOOST_TEST(error_of("echo", R"({"n": 1e999})")
             == "arguments of 'echo' are not valid JSON: number overflow parsing '1e999'");
  auto big = prepare_call(registry, "echo", R"({"n": 18446744073709551615, "m": -1.5e300})");
  BOOST_REQUIRE_MESSAGE(big, render(big));
  BOOST_TEST(big->dump() == R"({"m":-1.5e+300,"n":18446744073709551615})");
}

BOOST_AUTO_TEST_CASE(oversized_arguments_are_rejected) {
  std::string big = "{\"a\": \"" + std::string(troupe::max_argument_bytes, 'x') + "\"}";
  auto msg = error_of("echo", big);
  BOOST_TEST(contains(msg, "over the limit of 4194304 bytes"), msg);
}

// -- prepare_call: unknown tool ------------------------------------------------

BOOST_AUTO_TEST_CASE(unknown_tool_lists_known_tools) {
  auto msg = error_of("delete_everything", "{}", runtime_errc::unknown_tool);
  BOOST_TEST(msg == "unknown tool 'delete_everything'; known tools: append_file, "
                    "complete, delegate, echo, list_dir, read_file, write_file");
  // The name comes from the model: control bytes are escaped in the message.
  msg = error_of("bad\x1b[0m\xff", "{}", runtime_errc::unknown_tool);
  BOOST_TEST(contains(msg, "'bad\\x1b[0m\\xff'"), msg);
  // Unknown tool wins over malformed arguments.
  error_of("nope", "{{{", runtime_errc::unknown_tool);
}

// -- prepare_call: sanitize ----------------------------------------------------

BOOST_AUTO_TEST_CASE(nul_in_a_string_is_rejected_with_pointer) {
  auto msg = error_of("write_file", R"({"path": "a.txt", "content": "ab\u0000cd"})");
  BOOST_TEST(msg == "arguments of 'write_file': /content: contains a NUL character at byte 2");
  msg = error_of("echo", R"({"list": ["ok", "x\u0000"]})");
  BOOST_TEST(msg == "arguments of 'echo': /list/1: contains a NUL character at byte 1");
}

BOOST_AUTO_TEST_CASE(control_characters_are_stripped_except_whitespace) {
  auto res = prepare_call(registry, "write_file",
                          R"({"path": "a\u0007.txt", "content": "x\u001b[31my\u0001\n\t\rz"})");
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST((*res)["path"].get<std::string>() == "a.txt");
  BOOST_TEST((*res)["content"].get<std::string>() == "x[31my\n\t\rz");
}

BOOST_AUTO_TEST_CASE(control_characters_in_keys_are_rejected) {
  auto msg = error_of("echo", R"({"a\u0001": 1})");
  BOOST_TEST(contains(msg, "/: property name 'a\\x01' contains control characters"), msg);
  msg = error_of("echo", R"({"a\u0000": 1})");
  BOOST_TEST(contains(msg, "property name"), msg);
}

BOOST_AUTO_TEST_CASE(sanitize_text_rules) {
  BOOST_TEST(*sanitize_text("plain text\n") == "plain text\n");
  BOOST_TEST(*sanitize_text("") == "");
  BOOST_TEST(*sanitize_text("a\x01\x02\x1f\x7f" "b") == "a\x7f" "b"); // DEL is not C0
  BOOST_TEST(*sanitize_text("tab\there\r\n") == "tab\there\r\n");
  BOOST_TEST(*sanitize_text("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")
             == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  auto nul = sanitize_text("ab\0c"s);
  BOOST_REQUIRE(!nul);
  BOOST_CHECK(nul.error() == runtime_errc::invalid_arguments);
  BOOST_TEST(render(nul.error()) == "contains a NUL character at byte 2");
  auto bad = [](std::string s) {
    auto r = sanitize_text(s);
    return r ? std::string{"accepted"} : render(r.error());
  };
  BOOST_TEST(bad("a\xFF") == "is not valid UTF-8 at byte 1");
  BOOST_TEST(bad("\xC0\xAF") == "is not valid UTF-8 at byte 0");         // overlong '/'
  BOOST_TEST(bad("\xE0\x80\xAF") == "is not valid UTF-8 at byte 0");     // overlong
  BOOST_TEST(bad("\xED\xA0\x80") == "is not valid UTF-8 at byte 0");     // surrogate
  BOOST_TEST(bad("ok\xE2\x82") == "is not valid UTF-8 at byte 2");       // truncated
  BOOST_TEST(bad("\xF4\x90\x80\x80") == "is not valid UTF-8 at byte 0"); // > U+10FFFF
  BOOST_TEST(bad("\x80") == "is not valid UTF-8 at byte 0");             // stray continuation
}

// -- prepare_call: schema dry-run ----------------------------------------------

BOOST_AUTO_TEST_CASE(schema_errors_name_the_pointer) {
  BOOST_TEST(error_of("write_file", R"({"path": 5, "content": "x"})")
             == "arguments of 'write_file' do not match its schema: "
                "/path: expected string, got integer");
  BOOST_TEST(error_of("write_file", R"({"path": "a.txt"})")
             == "arguments of 'write_file' do not match its schema: "
                "/: missing required property 'content'");
  BOOST_TEST(error_of("write_file", R"({"path": "a", "content": "", "foo": 1})")
             == "arguments of 'write_file' do not match its schema: "
                "/: unexpected property 'foo'");
  BOOST_TEST(error_of("read_file", R"({"path": ""})")
             == "arguments of 'read_file' do not match its schema: "
                "/path: expected at least 1 characters, got 0");
  BOOST_TEST(error_of("echo", "[1, 2]")
             == "arguments of 'echo' do not match its schema: /: expected object, got array");
  BOOST_TEST(error_of("complete", R"({"status": "done", "answer": "x"})")
             == "arguments of 'complete' do not match its schema: /status: value \"done\" "
                "is not one of [\"success\",\"failure\",\"partial\"]");
}

BOOST_AUTO_TEST_CASE(sanitizing_happens_before_the_schema_check) {
  // A path made only of control characters becomes empty and then fails
  // minLength: the schema sees what the handler would see.
  BOOST_TEST(error_of("read_file", R"({"path": "\u0001\u0002"})")
             == "arguments of 'read_file' do not match its schema: "
                "/path: expected at least 1 characters, got 0");
}

BOOST_AUTO_TEST_SUITE_END()
