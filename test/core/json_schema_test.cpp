#include "core/json_schema.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

#include "schemas/errors.hpp"

using nlohmann::json;
using troupe::check_schema;
using troupe::render;
using troupe::runtime_errc;
using troupe::validate_json;

namespace {

// The context of a validation error, or "ok".
std::string check(const json& schema, const json& value) {
  auto err = validate_json(schema, value);
  if (!err)
    return "ok";
  BOOST_CHECK(err == runtime_errc::invalid_arguments);
  return render(err);
}

std::string schema_error(const json& schema) {
  auto err = check_schema(schema);
  if (!err)
    return "ok";
  BOOST_CHECK(err == runtime_errc::invalid_arguments);
  return render(err);
}

} // namespace

BOOST_AUTO_TEST_SUITE(json_schema)

// -- check_schema --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(accepts_every_supported_keyword) {
  auto schema = json::parse(R"({
    "type": "object", "description": "d", "title": "t", "$comment": "c",
    "properties": {
      "s": {"type": "string", "minLength": 1, "maxLength": 5, "enum": ["a", "bb"]},
      "n": {"type": ["integer", "null"], "minimum": -3, "maximum": 7.5},
      "k": {"const": 42},
      "l": {"type": "array", "items": {"type": "boolean"}, "minItems": 0, "maxItems": 3}
    },
    "required": ["s"],
    "additionalProperties": false
  })");
  BOOST_TEST(schema_error(schema) == "ok");
}

BOOST_AUTO_TEST_CASE(unknown_keyword_is_rejected_with_schema_pointer) {
  auto schema = json::parse(
    R"({"type": "object", "properties": {"path": {"type": "string", "format": "uri"}}})");
  BOOST_TEST(schema_error(schema)
             == "schema /properties/path: unsupported keyword 'format' "
                "(not enforced by troupe's validator)");
  BOOST_TEST(schema_error(json{{"type", "string"}, {"pattern", "^a"}}).find("'pattern'")
             != std::string::npos);
  BOOST_TEST(schema_error(json{{"default", 1}}).find("'default'") != std::string::npos);
  BOOST_TEST(schema_error(json{{"oneOf", json::array()}}).find("'oneOf'")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_keyword_values_are_rejected) {
  BOOST_TEST(schema_error(json::array()) != "ok");
  BOOST_TEST(schema_error(json{{"type", "text"}}) != "ok");
  BOOST_TEST(schema_error(json{{"type", json::array()}}) != "ok");
  BOOST_TEST(schema_error(json{{"type", {"string", "string"}}}) != "ok");
  BOOST_TEST(schema_error(json{{"properties", json::array()}}) != "ok");
  BOOST_TEST(schema_error(json{{"properties", {{"a", 5}}}}) == "schema /properties/a: "
                                                               "a schema must be a JSON "
                                                               "object, got 5");
  BOOST_TEST(schema_error(json{{"required", "a"}}) != "ok");
  BOOST_TEST(schema_error(json{{"required", {1}}}) != "ok");
  BOOST_TEST(schema_error(json{{"additionalProperties", {{"type", "string"}}}}) != "ok");
  BOOST_TEST(schema_error(json{{"enum", json::array()}}) != "ok");
  BOOST_TEST(schema_error(json{{"minLength", -1}}) != "ok");
  BOOST_TEST(schema_error(json{{"maxItems", 1.5}}) != "ok");
  BOOST_TEST(schema_error(json{{"minimum", "0"}}) != "ok");
  BOOST_TEST(schema_error(json{{"items", json::array({json::object()})}}) != "ok");
  BOOST_TEST(schema_error(json{{"items", {{"type", "strng"}}}}).find("schema /items")
             == 0u);
  BOOST_TEST(schema_error(json{{"description", 3}}) != "ok");
}

BOOST_AUTO_TEST_CASE(unsatisfiable_schemas_are_rejected) {
  BOOST_TEST(schema_error(json{{"minLength", 3}, {"maxLength", 2}}) != "ok");
  BOOST_TEST(schema_error(json{{"minimum", 3}, {"maximum", 2.5}}) != "ok");
  BOOST_TEST(schema_error(json{{"minItems", 3}, {"maxItems", 2}}) != "ok");
  auto schema = json::parse(
    R"({"type": "object", "properties": {}, "required": ["a"], "additionalProperties": false})");
  BOOST_TEST(schema_error(schema).find("'required' names \"a\"") != std::string::npos);
}

// -- type ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(type_keyword_pass_and_fail) {
  BOOST_TEST(check({{"type", "object"}}, json::object()) == "ok");
  BOOST_TEST(check({{"type", "object"}}, json::array()) == "/: expected object, got array");
  BOOST_TEST(check({{"type", "array"}}, json::array()) == "ok");
  BOOST_TEST(check({{"type", "array"}}, "x") == "/: expected array, got string");
  BOOST_TEST(check({{"type", "string"}}, "x") == "ok");
  BOOST_TEST(check({{"type", "string"}}, 3) == "/: expected string, got integer");
  BOOST_TEST(check({{"type", "integer"}}, -3) == "ok");
  BOOST_TEST(check({{"type", "integer"}}, 3u) == "ok");
  BOOST_TEST(check({{"type", "integer"}}, 2.0) == "ok"); // JSON Schema: no fraction
  BOOST_TEST(check({{"type", "integer"}}, 2.5) == "/: expected integer, got number");
  BOOST_TEST(check({{"type", "number"}}, 2.5) == "ok");
  BOOST_TEST(check({{"type", "number"}}, 2) == "ok");
  BOOST_TEST(check({{"type", "number"}}, true) == "/: expected number, got boolean");
  BOOST_TEST(check({{"type", "boolean"}}, false) == "ok");
  BOOST_TEST(check({{"type", "boolean"}}, 0) == "/: expected boolean, got integer");
  BOOST_TEST(check({{"type", "null"}}, nullptr) == "ok");
  BOOST_TEST(check({{"type", "null"}}, json::object()) == "/: expected null, got object");
}

BOOST_AUTO_TEST_CASE(type_array_accepts_any_listed_type) {
  json schema = {{"type", {"string", "null"}}};
  BOOST_TEST(check(schema, "x") == "ok");
  BOOST_TEST(check(schema, nullptr) == "ok");
  BOOST_TEST(check(schema, 1) == "/: expected string or null, got integer");
}

// -- objects -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(properties_are_validated_with_their_pointer) {
  auto schema = json::parse(R"({"type": "object", "properties": {
    "path": {"type": "string"},
    "opts": {"type": "object", "properties": {"a/b": {"type": "integer"},
                                              "c~d": {"type": "integer"}}}}})");
  BOOST_TEST(check(schema, json::parse(R"({"path": "x", "opts": {"a/b": 1}})")) == "ok");
  BOOST_TEST(check(schema, json::parse(R"({"path": 1})"))
             == "/path: expected string, got integer");
  BOOST_TEST(check(schema, json::parse(R"({"opts": {"a/b": "1"}})"))
             == "/opts/a~1b: expected integer, got string");
  BOOST_TEST(check(schema, json::parse(R"({"opts": {"c~d": "1"}})"))
             == "/opts/c~0d: expected integer, got string");
  // Undeclared properties are allowed unless additionalProperties is false.
  BOOST_TEST(check(schema, json::parse(R"({"other": 1})")) == "ok");
}

BOOST_AUTO_TEST_CASE(required_names_the_missing_property) {
  auto schema = json::parse(R"({"type": "object", "required": ["path", "content"]})");
  BOOST_TEST(check(schema, json::parse(R"({"path": "a", "content": ""})")) == "ok");
  BOOST_TEST(check(schema, json::parse(R"({"path": "a"})"))
             == "/: missing required property 'content'");
  auto nested = json::parse(
    R"({"properties": {"o": {"type": "object", "required": ["x"]}}})");
  BOOST_TEST(check(nested, json::parse(R"({"o": {}})"))
             == "/o: missing required property 'x'");
}

BOOST_AUTO_TEST_CASE(additional_properties_false_rejects_unknown_members) {
  auto schema = json::parse(R"({"type": "object", "properties": {"path": {}},
                               "additionalProperties": false})");
  BOOST_TEST(check(schema, json::parse(R"({"path": 1})")) == "ok");
  BOOST_TEST(check(schema, json::parse(R"({"path": 1, "foo": 2})"))
             == "/: unexpected property 'foo'");
  auto open = json::parse(R"({"type": "object", "additionalProperties": true})");
  BOOST_TEST(check(open, json::parse(R"({"foo": 2})")) == "ok");
  auto closed = json::parse(R"({"type": "object", "additionalProperties": false})");
  BOOST_TEST(check(closed, json::object()) == "ok");
  BOOST_TEST(check(closed, json::parse(R"({"a": 1})")) == "/: unexpected property 'a'");
}

// -- enum and const ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(enum_pass_and_fail) {
  json schema = {{"enum", {"success", "failure", 3}}};
  BOOST_TEST(check(schema, "success") == "ok");
  BOOST_TEST(check(schema, 3) == "ok");
  BOOST_TEST(check(schema, 3.0) == "ok"); // numerically equal
  BOOST_TEST(check(schema, "done") == "/: value \"done\" is not one of "
                                      "[\"success\",\"failure\",3]");
}

BOOST_AUTO_TEST_CASE(const_pass_and_fail) {
  json schema = {{"const", {{"a", 1}}}};
  BOOST_TEST(check(schema, json{{"a", 1}}) == "ok");
  BOOST_TEST(check(schema, json{{"a", 2}}) == "/: expected constant {\"a\":1}, got {\"a\":2}");
  BOOST_TEST(check({{"const", nullptr}}, nullptr) == "ok");
  BOOST_TEST(check({{"const", nullptr}}, false) != "ok");
}

// -- strings -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(string_length_counts_code_points) {
  json schema = {{"type", "string"}, {"minLength", 2}, {"maxLength", 5}};
  BOOST_TEST(check(schema, "ab") == "ok");
  BOOST_TEST(check(schema, "h\xC3\xA9llo") == "ok"); // 6 bytes, 5 code points
  BOOST_TEST(check(schema, "a") == "/: expected at least 2 characters, got 1");
  BOOST_TEST(check(schema, "abcdef") == "/: expected at most 5 characters, got 6");
  BOOST_TEST(check({{"minLength", 0}}, "") == "ok");
  // Length keywords apply to strings only.
  BOOST_TEST(check(schema, 7) == "/: expected string, got integer");
  BOOST_TEST(check({{"minLength", 3}}, 7) == "ok");
}

// -- numbers -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(minimum_and_maximum_are_inclusive) {
  json schema = {{"type", "number"}, {"minimum", 0}, {"maximum", 10.5}};
  BOOST_TEST(check(schema, 0) == "ok");
  BOOST_TEST(check(schema, 10.5) == "ok");
  BOOST_TEST(check(schema, 10) == "ok");
  BOOST_TEST(check(schema, -1) == "/: expected a value >= 0, got -1");
  BOOST_TEST(check(schema, -0.5) == "/: expected a value >= 0, got -0.5");
  BOOST_TEST(check(schema, 11u) == "/: expected a value <= 10.5, got 11");
  BOOST_TEST(check({{"minimum", -5}}, "text") == "ok");
}

// -- arrays --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(items_are_validated_with_their_index) {
  json schema = {{"type", "array"}, {"items", {{"type", "string"}}}};
  BOOST_TEST(check(schema, json::array({"a", "b"})) == "ok");
  BOOST_TEST(check(schema, json::array()) == "ok");
  BOOST_TEST(check(schema, json::array({"a", 2})) == "/1: expected string, got integer");
  json nested = {{"properties", {{"tags", schema}}}};
  BOOST_TEST(check(nested, json{{"tags", {"x", "y", false}}})
             == "/tags/2: expected string, got boolean");
}

BOOST_AUTO_TEST_CASE(min_and_max_items) {
  json schema = {{"type", "array"}, {"minItems", 1}, {"maxItems", 2}};
  BOOST_TEST(check(schema, json::array({1})) == "ok");
  BOOST_TEST(check(schema, json::array({1, 2})) == "ok");
  BOOST_TEST(check(schema, json::array()) == "/: expected at least 1 items, got 0");
  BOOST_TEST(check(schema, json::array({1, 2, 3})) == "/: expected at most 2 items, got 3");
}

BOOST_AUTO_TEST_CASE(first_violation_is_reported_deterministically) {
  auto schema = json::parse(R"({"type": "object", "properties": {
    "a": {"type": "string"}, "b": {"type": "string"}}})");
  // Members are visited in sorted order, whatever the input order was.
  BOOST_TEST(check(schema, json::parse(R"({"b": 1, "a": 2})"))
             == "/a: expected string, got integer");
}

BOOST_AUTO_TEST_CASE(malformed_schema_never_crashes_the_validator) {
  // validate_json's precondition is a checked schema, but a wrong one must
  // still not throw or crash.
  json bad = {{"type", 5}, {"minLength", "x"}, {"items", 3}, {"required", "a"},
              {"properties", 1}, {"enum", 2}};
  BOOST_CHECK_NO_THROW((void)validate_json(bad, json::array({1})));
  BOOST_CHECK_NO_THROW((void)validate_json(bad, "s"));
  BOOST_CHECK_NO_THROW((void)validate_json(json::array(), json::object()));
}

BOOST_AUTO_TEST_SUITE_END()
