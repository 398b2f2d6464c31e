#pragma once
// JSON access for the decoders: every field is read with its type checked,
// and a wrong or missing one throws `wire_error` with the field's path
// ("choices[0].delta.content: expected a string, got a number"). The
// exception never leaves the decoders: `reply_decoder::feed` and `finish`
// catch it and report the reply as malformed, with the line.
//
// Objects are `ordered_json` so a tool's input object keeps the key order
// the model wrote when it is dumped back into `args_json`.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/providers/http_failure.hpp"

namespace troupe::providers::detail {

using json = nlohmann::ordered_json;

struct wire_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what);

/// "a string", "an object", "null", ...
[[nodiscard]] const char* type_name(const json& v);

/// Deepest nesting of arrays and objects the decoders accept. Parsing is
/// iterative, but dumping and destroying a value recurse: an adversarial
/// server must not be able to overflow the stack.
constexpr int max_json_depth = 128;

/// Whether the arrays and objects in `text` nest at most `max_depth` deep
/// (brackets inside strings do not count; invalid JSON may pass).
[[nodiscard]] bool within_depth(std::string_view text, int max_depth = max_json_depth);

/// `text` parsed; not JSON, or nested too deep → wire_error naming `what`
/// was expected.
[[nodiscard]] json parse(std::string_view text, std::string_view what);

/// A nlohmann exception's message without its "[json.exception...] " tag
/// (where and what: "parse error at line 2, column 5: ..."), printable and
/// at most 200 bytes.
[[nodiscard]] std::string parse_message(const std::exception& e);

/// Compact, UTF-8 errors replaced rather than thrown.
[[nodiscard]] std::string dump(const json& v);

/// The member `key` of object `obj`; nullptr when absent or null.
[[nodiscard]] const json* member(const json& obj, const char* key);

// Typed members. `where` is the path of `obj` ("" for the top level). The
// optional_* ones accept an absent or null member.
[[nodiscard]] const json& require_object(const json& obj, const char* key, std::string_view where);
[[nodiscard]] const json& require_array(const json& obj, const char* key, std::string_view where);
[[nodiscard]] const json* optional_object(const json& obj, const char* key, std::string_view where);
[[nodiscard]] const json* optional_array(const json& obj, const char* key, std::string_view where);
[[nodiscard]] std::optional<std::string> optional_string(const json& obj, const char* key,
                                                         std::string_view where);
[[nodiscard]] std::optional<uint64_t> optional_count(const json& obj, const char* key,
                                                     std::string_view where);
[[nodiscard]] std::optional<int64_t> optional_integer(const json& obj, const char* key,
                                                      std::string_view where);
[[nodiscard]] std::optional<bool> optional_bool(const json& obj, const char* key,
                                                std::string_view where);

/// "where.key" (or "key" at the top level).
[[nodiscard]] std::string path(std::string_view where, std::string_view key);
[[nodiscard]] std::string path(std::string_view where, size_t index);

/// Reads an error object in any shape `parse_error_body` knows.
[[nodiscard]] bool read_error_object(const json& body, error_info& out);

} // namespace troupe::providers::detail
