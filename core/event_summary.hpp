#pragma once

#include <string>

#include "schemas/event.hpp"

namespace troupe {

/// One line describing an event for timelines (`troupe show`, progress).
[[nodiscard]] std::string summarize(const event& ev);

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
[[nodiscard]] std::string format_timestamp(int64_t ts_us);

/// Shortens `text` to at most `max` bytes on one line, marking the cut.
[[nodiscard]] std::string one_line(std::string_view text, size_t max = 80);

} // namespace troupe
