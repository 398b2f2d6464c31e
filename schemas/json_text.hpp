#pragma once
// The one way troupe turns JSON into text for output (--json commands, JSON
// logs; exports, written by Cap'n Proto's codec, get the same treatment from
// valid_utf8 in schemas/utf8.hpp). Journal text is not guaranteed to be UTF-8: a damaged
// or imported journal can hold any bytes in a run id, a tool name or an
// output, and nlohmann's default dump() throws on them (type_error 316),
// which aborted whole commands. Here invalid bytes become U+FFFD instead, so
// every line printed is valid JSON. Output is lossy only for such bytes.

#include <string>

#include <nlohmann/json.hpp>

namespace troupe {

/// Compact JSON text of `j` (nlohmann::json or ordered_json); a byte that is
/// not part of valid UTF-8 in a string is written as U+FFFD.
template <class Json>
[[nodiscard]] std::string to_json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

} // namespace troupe
