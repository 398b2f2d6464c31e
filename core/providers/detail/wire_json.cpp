#include "core/providers/detail/wire_json.hpp"

#include "core/envelope.hpp"

namespace troupe::providers::detail {

namespace {

std::string mistyped(std::string_view where, std::string_view key, const char* expected,
                     const json& got) {
  return path(where, key) + ": expected " + expected + ", got " + type_name(got);
}

} // namespace

// nlohmann's messages start with "[json.exception.parse_error.101] "; the
// rest says where and what.
std::string parse_message(const std::exception& e) {
  std::string_view m = e.what();
  if (auto close = m.find("] "); m.substr(0, 1) == "[" && close != std::string_view::npos)
    m.remove_prefix(close + 2);
  return escape_unprintable(m, 200);
}

void fail(const std::string& what) {
  throw wire_error(what);
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    default:
      return "a binary value";
  }
}

bool within_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

json parse(std::string_view text, std::string_view what) {
  if (!within_depth(text))
    fail("expected " + std::string(what) + " (nested deeper than "
         + std::to_string(max_json_depth) + ")");
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail("expected " + std::string(what) + " (" + parse_message(e) + ")");
  }
}

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string path(std::string_view where, std::string_view key) {
  if (where.empty())
    return std::string(key);
  std::string p(where);
  p += '.';
  p += key;
  return p;
}

std::string path(std::string_view where, size_t index) {
  return std::string(where) + "[" + std::to_string(index) + "]";
}

const json* member(const json& obj, const char* key) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return nullptr;
  return &*it;
}

const json& require_object(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    fail(path(where, key) + ": missing");
  if (!v->is_object())
    fail(mistyped(where, key, "an object", *v));
  return *v;
}

const json& require_array(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    fail(path(where, key) + ": missing");
  if (!v->is_array())
    fail(mistyped(where, key, "an array", *v));
  return *v;
}

const json* optional_object(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v != nullptr && !v->is_object())
    fail(mistyped(where, key, "an object", *v));
  return v;
}

const json* optional_array(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v != nullptr && !v->is_array())
    fail(mistyped(where, key, "an array", *v));
  return v;
}

std::optional<std::string> optional_string(const json& obj, const char* key,
                                           std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_string())
    fail(mistyped(where, key, "a string", *v));
  return v->get<std::string>();
}

std::optional<uint64_t> optional_count(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_number_unsigned())
    return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0)
    return static_cast<uint64_t>(v->get<int64_t>());
  fail(mistyped(where, key, "a count (an integer >= 0)", *v));
}

std::optional<int64_t> optional_integer(const json& obj, const char* key,
                                        std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_number_integer() && !v->is_number_unsigned())
    return v->get<int64_t>();
  if (v->is_number_unsigned() && v->get<uint64_t>() <= uint64_t{INT64_MAX})
    return static_cast<int64_t>(v->get<uint64_t>());
  fail(mistyped(where, key, "an integer", *v));
}

std::optional<bool> optional_bool(const json& obj, const char* key, std::string_view where) {
  auto* v = member(obj, key);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_boolean())
    fail(mistyped(where, key, "a boolean", *v));
  return v->get<bool>();
}

bool read_error_object(const json& body, error_info& out) {
  if (!body.is_object())
    return false;
  auto text = [](const json* v) -> std::string {
    if (v == nullptr)
      return {};
    if (v->is_string())
      return v->get<std::string>();
    if (v->is_number_integer() || v->is_number_unsigned())
      return dump(*v);
    return {};
  };
  if (auto* e = member(body, "error")) {
    if (e->is_string()) { // Ollama
      out = {{}, {}, e->get<std::string>()};
      return true;
    }
    if (e->is_object()) { // OpenAI, llama.cpp, LiteLLM, Anthropic
      out = {text(member(*e, "type")), text(member(*e, "code")), text(member(*e, "message"))};
      return true;
    }
    return false;
  }
  if (auto* o = member(body, "object"); o != nullptr && *o == "error") { // vLLM
    out = {text(member(body, "type")), text(member(body, "code")),
           text(member(body, "message"))};
    return true;
  }
  return false;
}

} // namespace troupe::providers::detail
