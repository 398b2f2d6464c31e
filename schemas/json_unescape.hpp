#pragma once
// Works around Cap'n Proto 0.9's JSON decoder (Debian 12), which misreads the
// hex letters of \uXXXX escapes: \u001b decodes as 0x11, \u00e9 as "I",
// \u4e2d as U+4423. Exports write ESC and other control characters that way,
// so without this an exported event did not import byte for byte (issue 14).
// Rewriting the escapes before the decoder sees them sidesteps the bug.

#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace troupe {

/// `line` (JSON text) with every \uXXXX escape inside a string replaced by
/// something Cap'n Proto 0.9 decodes to the same text: the code point's UTF-8
/// bytes (a surrogate pair becomes one 4-byte sequence); `"` and `\` and
/// \b \f \n \r \t as their short escapes; U+0000 kept as \u0000 (no hex
/// letters, so read right; a raw NUL would end the decoder's input); other
/// control characters as raw bytes, which the decoder takes inside strings.
/// Everything else is copied unchanged, so bad JSON stays bad for the decoder
/// to report.
///
/// A \u without four hex digits or a surrogate that is not part of a
/// high-low pair is schema_errc::malformed_event naming `where` and the byte.
[[nodiscard]] caf::expected<std::string>
unescape_unicode_escapes(std::string_view line, std::string_view where);

} // namespace troupe
