#pragma once
// How long a server asked us to wait before the next request: the
// `retry-after-ms` header (OpenAI's, milliseconds, may have a fraction) or
// `Retry-After` (RFC 9110: delay-seconds or an HTTP-date). Pure: the date
// form needs the current time, which the caller passes.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/providers/wire.hpp"

namespace troupe::providers {

/// Longest wait we take from a header; larger values saturate here (a
/// gateway judges long waits itself, this only keeps the arithmetic sane).
constexpr uint64_t max_retry_after_ms = uint64_t{24} * 3600 * 1000;

/// `retry-after-ms` when it parses, else `retry-after`; nothing when neither
/// header is there or parses. Header names compare without regard to case.
/// A date in the past means 0.
[[nodiscard]] std::optional<uint64_t> retry_after_ms(const header_list& headers,
                                                     std::chrono::system_clock::time_point now);

/// One `Retry-After` value: seconds ("120", also "1.5") or an HTTP-date in
/// any of the three forms RFC 9110 names (IMF-fixdate "Sun, 06 Nov 1994
/// 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov
/// 6 08:49:37 1994").
[[nodiscard]] std::optional<uint64_t> parse_retry_after(std::string_view value,
                                                        std::chrono::system_clock::time_point now);

/// Seconds since the Unix epoch of an HTTP-date, as above.
[[nodiscard]] std::optional<int64_t> parse_http_date(std::string_view value);

} // namespace troupe::providers
