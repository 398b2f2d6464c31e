#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace troupe {

/// Reads a whole input file (scenario, policy, secrets). Only a regular file
/// (or a symlink to one) of at most 4 MiB is read: a directory, a FIFO or a
/// device is refused without blocking. Errors are invalid_scenario:
/// `path: cannot read the <what> (reason); expected <expected>`.
[[nodiscard]] caf::expected<std::string>
read_text_file(const std::string& path, std::string_view what,
               std::string_view expected = "a readable TOML file");

} // namespace troupe
