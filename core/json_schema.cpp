#include "core/json_schema.hpp"

#include <array>
#include <cmath>
#include <set>
#include <string>
#include <string_view>

namespace troupe {

namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 7> type_names = {
  "object", "array", "string", "integer", "number", "boolean", "null"};

// Keywords whose values carry no constraint; allowed so schemas can keep
// the descriptions that models rely on.
constexpr std::array<std::string_view, 3> annotation_keywords = {
  "description", "title", "$comment"};

constexpr std::array<std::string_view, 13> constraint_keywords = {
  "type",    "properties", "required",  "additionalProperties",
  "enum",    "const",      "minLength", "maxLength",
  "minimum", "maximum",    "items",     "minItems",
  "maxItems"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& xs, std::string_view x) {
  for (auto y : xs)
    if (y == x)
      return true;
  return false;
}

// Escapes one reference token as RFC 6901 requires ('~' -> "~0", '/' -> "~1").
std::string escape_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string child(const std::string& ptr, std::string_view token) {
  return ptr + "/" + escape_token(token);
}

// The root is written "/" rather than the empty pointer so messages never
// start with a bare colon.
std::string shown(const std::string& ptr) {
  return ptr.empty() ? std::string{"/"} : ptr;
}

caf::error fail(std::string msg) {
  return caf::make_error(runtime_errc::invalid_arguments, std::move(msg));
}

// Dumps a value for an error message without ever throwing (invalid UTF-8
// is replaced) and without flooding the message with huge values.
std::string brief(const json& value) {
  auto text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t max_shown = 80;
  if (text.size() > max_shown) {
    text.resize(max_shown);
    text += "...";
  }
  return text;
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

bool is_integral(const json& value) {
  if (value.is_number_integer())
    return true;
  if (!value.is_number_float())
    return false;
  auto d = value.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(const json& value, std::string_view type) {
  if (type == "object")
    return value.is_object();
  if (type == "array")
    return value.is_array();
  if (type == "string")
    return value.is_string();
  if (type == "integer")
    return is_integral(value);
  if (type == "number")
    return value.is_number();
  if (type == "boolean")
    return value.is_boolean();
  if (type == "null")
    return value.is_null();
  return false;
}

// -- schema checking ----------------------------------------------------------

caf::error check_at(const json& schema, const std::string& ptr);

caf::error schema_fail(const std::string& ptr, const std::string& what) {
  return fail("schema " + shown(ptr) + ": " + what);
}

bool is_count(const json& x) {
  return x.is_number_unsigned() || (x.is_number_integer() && x.get<int64_t>() >= 0);
}

caf::error check_type_keyword(const json& type, const std::string& ptr) {
  auto check_one = [&](const json& t) -> caf::error {
    if (!t.is_string() || !contains(type_names, t.get_ref<const std::string&>()))
      return schema_fail(ptr, "'type' must name one of object, array, string, "
                              "integer, number, boolean, null; got " + brief(t));
    return caf::none;
  };
  if (!type.is_array())
    return check_one(type);
  if (type.empty())
    return schema_fail(ptr, "'type' array must not be empty");
  std::set<std::string> seen;
  for (const auto& t : type) {
    if (auto err = check_one(t))
      return err;
    if (!seen.insert(t.get<std::string>()).second)
      return schema_fail(ptr, "'type' lists " + brief(t) + " twice");
  }
  return caf::none;
}

caf::error check_bounds(const json& schema, const std::string& ptr,
                        const char* lo, const char* hi, bool counts) {
  for (const char* key : {lo, hi}) {
    auto it = schema.find(key);
    if (it == schema.end())
      continue;
    if (counts ? !is_count(*it) : !it->is_number())
      return schema_fail(ptr, std::string{"'"} + key + "' must be a "
                                + (counts ? "non-negative integer" : "number")
                                + ", got " + brief(*it));
  }
  auto l = schema.find(lo);
  auto h = schema.find(hi);
  if (l != schema.end() && h != schema.end() && *h < *l)
    return schema_fail(ptr, std::string{"'"} + lo + "' " + brief(*l)
                              + " exceeds '" + hi + "' " + brief(*h)
                              + "; no value could satisfy both");
  return caf::none;
}

caf::error check_object_keywords(const json& schema, const std::string& ptr) {
  if (auto it = schema.find("properties"); it != schema.end()) {
    if (!it->is_object())
      return schema_fail(ptr, "'properties' must be an object, got " + brief(*it));
    for (const auto& [name, sub] : it->items())
      if (auto err = check_at(sub, child(child(ptr, "properties"), name)))
        return err;
  }
  auto additional = schema.find("additionalProperties");
  if (additional != schema.end() && !additional->is_boolean())
    return schema_fail(ptr, "'additionalProperties' must be true or false "
                            "(schemas there are not supported), got "
                              + brief(*additional));
  if (auto it = schema.find("required"); it != schema.end()) {
    if (!it->is_array())
      return schema_fail(ptr, "'required' must be an array of strings, got " + brief(*it));
    std::set<std::string> seen;
    for (const auto& name : *it) {
      if (!name.is_string())
        return schema_fail(ptr, "'required' must list strings, got " + brief(name));
      if (!seen.insert(name.get<std::string>()).second)
        return schema_fail(ptr, "'required' lists " + brief(name) + " twice");
      // A required property that additionalProperties=false forbids makes
      // the schema unsatisfiable: every call would fail, so refuse it now.
      auto props = schema.find("properties");
      bool declared = props != schema.end() && props->is_object()
                      && props->contains(name.get<std::string>());
      if (!declared && additional != schema.end() && *additional == false)
        return schema_fail(ptr, "'required' names " + brief(name)
                                  + ", which 'properties' does not declare "
                                    "and additionalProperties=false forbids");
    }
  }
  return caf::none;
}

caf::error check_at(const json& schema, const std::string& ptr) {
  if (!schema.is_object())
    return schema_fail(ptr, "a schema must be a JSON object, got " + brief(schema));
  for (const auto& [key, value] : schema.items()) {
    (void)value;
    if (!contains(constraint_keywords, key) && !contains(annotation_keywords, key))
      return schema_fail(ptr, "unsupported keyword '" + key
                                + "' (not enforced by troupe's validator)");
  }
  for (const char* key : {"description", "title", "$comment"})
    if (auto it = schema.find(key); it != schema.end() && !it->is_string())
      return schema_fail(ptr, std::string{"'"} + key + "' must be a string");
  if (auto it = schema.find("type"); it != schema.end())
    if (auto err = check_type_keyword(*it, ptr))
      return err;
  if (auto err = check_object_keywords(schema, ptr))
    return err;
  if (auto it = schema.find("enum"); it != schema.end())
    if (!it->is_array() || it->empty())
      return schema_fail(ptr, "'enum' must be a non-empty array, got " + brief(*it));
  if (auto err = check_bounds(schema, ptr, "minLength", "maxLength", true))
    return err;
  if (auto err = check_bounds(schema, ptr, "minimum", "maximum", false))
    return err;
  if (auto err = check_bounds(schema, ptr, "minItems", "maxItems", true))
    return err;
  if (auto it = schema.find("items"); it != schema.end()) {
    if (!it->is_object())
      return schema_fail(ptr, "'items' must be one schema object (tuple form is "
                              "not supported), got " + brief(*it));
    if (auto err = check_at(*it, child(ptr, "items")))
      return err;
  }
  return caf::none;
}

// -- validation ---------------------------------------------------------------

caf::error validate_at(const json& schema, const json& value, const std::string& ptr);

caf::error value_fail(const std::string& ptr, const std::string& what) {
  return fail(shown(ptr) + ": " + what);
}

caf::error validate_type(const json& type, const json& value, const std::string& ptr) {
  std::string expected;
  auto try_one = [&](const json& t) {
    if (!t.is_string())
      return false;
    const auto& name = t.get_ref<const std::string&>();
    if (!expected.empty())
      expected += " or ";
    expected += name;
    return has_type(value, name);
  };
  if (type.is_array()) {
    for (const auto& t : type)
      if (try_one(t))
        return caf::none;
  } else if (try_one(type) || !type.is_string()) {
    return caf::none;
  }
  return value_fail(ptr, "expected " + expected + ", got " + json_type_name(value));
}

caf::error validate_object(const json& schema, const json& value, const std::string& ptr) {
  auto props = schema.find("properties");
  bool has_props = props != schema.end() && props->is_object();
  if (auto it = schema.find("required"); it != schema.end() && it->is_array())
    for (const auto& name : *it)
      if (name.is_string() && !value.contains(name.get<std::string>()))
        return value_fail(ptr, "missing required property '"
                                 + name.get<std::string>() + "'");
  if (auto it = schema.find("additionalProperties");
      it != schema.end() && *it == false) {
    for (const auto& [name, member] : value.items()) {
      (void)member;
      if (!has_props || !props->contains(name))
        return value_fail(ptr, "unexpected property '" + name + "'");
    }
  }
  if (!has_props)
    return caf::none;
  for (const auto& [name, sub] : props->items())
    if (auto member = value.find(name); member != value.end())
      if (auto err = validate_at(sub, *member, child(ptr, name)))
        return err;
  return caf::none;
}

caf::error validate_array(const json& schema, const json& value, const std::string& ptr) {
  if (auto it = schema.find("minItems"); it != schema.end() && is_count(*it)
                                         && value.size() < it->get<uint64_t>())
    return value_fail(ptr, "expected at least " + it->dump() + " items, got "
                             + std::to_string(value.size()));
  if (auto it = schema.find("maxItems"); it != schema.end() && is_count(*it)
                                         && value.size() > it->get<uint64_t>())
    return value_fail(ptr, "expected at most " + it->dump() + " items, got "
                             + std::to_string(value.size()));
  if (auto it = schema.find("items"); it != schema.end() && it->is_object())
    for (size_t i = 0; i < value.size(); ++i)
      if (auto err = validate_at(*it, value[i], child(ptr, std::to_string(i))))
        return err;
  return caf::none;
}

caf::error validate_string(const json& schema, const json& value, const std::string& ptr) {
  auto n = code_points(value.get_ref<const std::string&>());
  if (auto it = schema.find("minLength"); it != schema.end() && is_count(*it)
                                          && n < it->get<uint64_t>())
    return value_fail(ptr, "expected at least " + it->dump()
                             + " characters, got " + std::to_string(n));
  if (auto it = schema.find("maxLength"); it != schema.end() && is_count(*it)
                                          && n > it->get<uint64_t>())
    return value_fail(ptr, "expected at most " + it->dump()
                             + " characters, got " + std::to_string(n));
  return caf::none;
}

caf::error validate_number(const json& schema, const json& value, const std::string& ptr) {
  // nlohmann compares integers, unsigned integers and floats numerically.
  if (auto it = schema.find("minimum"); it != schema.end() && it->is_number()
                                        && value < *it)
    return value_fail(ptr, "expected a value >= " + it->dump() + ", got " + brief(value));
  if (auto it = schema.find("maximum"); it != schema.end() && it->is_number()
                                        && *it < value)
    return value_fail(ptr, "expected a value <= " + it->dump() + ", got " + brief(value));
  return caf::none;
}

caf::error validate_at(const json& schema, const json& value, const std::string& ptr) {
  if (!schema.is_object())
    return caf::none;
  if (auto it = schema.find("type"); it != schema.end())
    if (auto err = validate_type(*it, value, ptr))
      return err;
  if (auto it = schema.find("const"); it != schema.end() && value != *it)
    return value_fail(ptr, "expected constant " + brief(*it) + ", got " + brief(value));
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    bool found = false;
    for (const auto& x : *it)
      found = found || x == value;
    if (!found)
      return value_fail(ptr, "value " + brief(value) + " is not one of " + brief(*it));
  }
  if (value.is_object())
    return validate_object(schema, value, ptr);
  if (value.is_array())
    return validate_array(schema, value, ptr);
  if (value.is_string())
    return validate_string(schema, value, ptr);
  if (value.is_number())
    return validate_number(schema, value, ptr);
  return caf::none;
}

} // namespace

const char* json_type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::null:
      return "null";
    default:
      return "non-JSON value";
  }
}

caf::error check_schema(const nlohmann::json& schema) {
  return check_at(schema, "");
}

caf::error validate_json(const nlohmann::json& schema, const nlohmann::json& value) {
  return validate_at(schema, value, "");
}

} // namespace troupe
