#pragma once
// Process-wide logging with spdlog: readable lines on stderr by default, or
// one JSON object per line (every field properly escaped) for log shippers.

#include <string_view>

#include <caf/error.hpp>

namespace troupe {

enum class log_format : uint8_t { text, json };

/// Configures the default spdlog logger to write to stderr. `level` is one of
/// trace, debug, info, warn, error, critical, off; `format` is text or json.
/// Returns runtime_errc::invalid_arguments naming the bad value.
[[nodiscard]] caf::error setup_logging(std::string_view format,
                                       std::string_view level);

} // namespace troupe
