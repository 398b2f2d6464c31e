#pragma once
// Making text valid UTF-8 for output formats that require it (JSON). Journal
// text is bytes as far as the journal is concerned; only printing needs this.

#include <string>
#include <string_view>

namespace troupe {

/// `text` with each byte that does not belong to a well-formed UTF-8
/// sequence (RFC 3629: no overlong forms, no surrogates, nothing above
/// U+10FFFF) replaced by U+FFFD; valid text comes back unchanged.
[[nodiscard]] std::string valid_utf8(std::string_view text);

} // namespace troupe
