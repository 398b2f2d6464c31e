#pragma once
// The envelope every tool call passes through before policy and execution:
//
//   parse -> look up the tool -> sanitize -> normalize -> schema dry-run
//
// The model's argument text is untrusted input. What comes out is the
// normalized argument object: the exact value that is journaled as the call
// intent and later handed to the handler, so replay sees the same bytes.
// Normalization is deliberately small and deterministic: strings are
// sanitized (see `sanitize_text`); nothing is trimmed, reordered by hand or
// defaulted; object members come out sorted by name because nlohmann::json
// keeps objects sorted, so `dump()` of the result is canonical.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"
#include "core/tool_registry.hpp"

namespace troupe {

/// Largest argument text `prepare_call` accepts, in bytes.
constexpr size_t max_argument_bytes = 4 * 1024 * 1024;

/// Deepest nesting of arrays and objects `prepare_call` accepts. Tool
/// arguments are shallow; the limit keeps recursive walks off deep input.
constexpr int max_argument_depth = 32;

/// Cleans one string that came from a model: rejects NUL characters and
/// invalid UTF-8 (overlong forms, surrogates, truncated sequences), and strips
/// the other C0 control characters (U+0001..U+001F) except tab, line feed and
/// carriage return, so terminal escape sequences cannot reach files or logs.
/// Errors are `runtime_errc::invalid_arguments` with the byte offset, e.g.
/// `contains a NUL character at byte 3`.
[[nodiscard]] caf::expected<std::string> sanitize_text(std::string_view text);

/// `text` with every byte outside printable ASCII written as `\xNN`, so it
/// stays one line of valid UTF-8 (error messages, file names shown to the
/// model); cut after `max_shown` bytes with "..." when longer.
[[nodiscard]] std::string escape_unprintable(std::string_view text,
                                             size_t max_shown = std::string_view::npos);

/// Prepares one call of `tool_name` with the model's argument text
/// `args_json` and returns the normalized argument object.
///
/// Errors (all name the tool, so the message can go back to the model):
/// - `runtime_errc::unknown_tool`: no such tool; the context lists the known ones.
/// - `runtime_errc::invalid_arguments`: the text is not JSON (with the byte
///   position and a snippet), holds a number beyond double range, is too large
///   or too deep, repeats a property name, contains a
///   string `sanitize_text` rejects or an object key it would change, or fails
///   the schema (with the JSON pointer of the offending value), e.g.
///   `arguments of 'write_file' do not match its schema: /: missing required property 'content'`.
///
/// Empty (or all-whitespace) argument text means `{}`: some providers send
/// it for calls without parameters.
[[nodiscard]] caf::expected<nlohmann::json>
prepare_call(const tool_registry& registry, std::string_view tool_name,
             std::string_view args_json);

} // namespace troupe
