#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace troupe {

/// Reads a whole input file (scenario, policy). Errors are invalid_scenario:
/// `path: cannot read the <what> (reason); expected a readable TOML file`.
[[nodiscard]] caf::expected<std::string> read_text_file(const std::string& path,
                                                        std::string_view what);

} // namespace troupe
