#pragma once
// The request target of an HTTP request, split and percent-decoded for the
// server's handler (net/http_server.hpp). Pure: no I/O, tested directly.
//
// Accepted forms (RFC 9112 section 3.2): origin-form `/path?query`,
// absolute-form `http://host/path?query` (the authority is dropped), and
// `*` (OPTIONS). Anything else, a bad `%XX` escape, or an escape that decodes
// to NUL is refused: the server answers 400 `malformed-request`.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::net::detail {

struct request_target {
  std::string path; ///< decoded; `%2F` becomes `/`
  /// `name=value` pairs in order; `+` is a space (form encoding), a pair
  /// without `=` has an empty value, empty pairs (`a=1&&b=2`) are skipped.
  std::vector<std::pair<std::string, std::string>> query;
};

[[nodiscard]] std::optional<request_target> parse_target(std::string_view target);

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`).
/// nullopt for a malformed escape or a decoded NUL.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

} // namespace troupe::net::detail
