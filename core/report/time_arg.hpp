#pragma once
// The `--since` of `troupe report` and `?since=` of `GET /v1/kpis`: an
// RFC 3339 time (`2026-12-01T00:00:00Z`, fractions and `+hh:mm` offsets
// allowed) or a duration back from now: a positive integer and one of
// s, m, h, d, w (`30m`, `24h`, `7d`). Pure: now comes in.

#include <cstdint>
#include <optional>
#include <string_view>

#include <caf/expected.hpp>

namespace troupe::report {

/// Microseconds since the Unix epoch of an RFC 3339 time; none when `text`
/// is not one (or names no real date).
[[nodiscard]] std::optional<int64_t> parse_rfc3339(std::string_view text);

/// `text` as an instant: an RFC 3339 time, or `now_us` minus a duration.
/// The error (runtime_errc::invalid_arguments) quotes `text` and says what
/// is accepted.
[[nodiscard]] caf::expected<int64_t> parse_since(std::string_view text, int64_t now_us);

} // namespace troupe::report
