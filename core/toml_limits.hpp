#pragma once
// Bounds on TOML input (scenarios, policies), checked before toml++ sees it.
// toml++ parses table headers and dotted keys recursively, one stack frame
// per level, so a header like [a.a.a…] 50,000 levels deep overflowed the
// stack (SIGSEGV) instead of giving an error. Its own bound covers only
// arrays and inline tables (256). Real files nest a handful of levels.

#include <cstddef>
#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace troupe {

/// The largest scenario or policy file accepted, in bytes (4 MiB).
inline constexpr size_t max_toml_bytes = size_t{4} << 20;

/// The deepest nesting accepted: levels of tables ([a.b] headers), dotted key
/// parts, arrays and inline tables, counted together along one path.
inline constexpr unsigned max_toml_depth = 64;

/// Scans `text` (the contents of `source`) without parsing it: its size, and
/// the nesting of every key and value, outside strings and comments.
/// Error (invalid_scenario): `source:line:column: …` naming the limit.
[[nodiscard]] caf::error check_toml_limits(std::string_view text, const std::string& source);

} // namespace troupe
