#pragma once
// The policy parsers that read an already parsed toml++ table: the scenario
// parser's way in. Internal (not installed): it keeps toml++ out of the public
// headers, which embedders compile against.

#include <filesystem>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <toml++/toml.h>

#include "core/policy.hpp"
#include "core/scenario.hpp"

namespace troupe {

/// Parses a policy given as a parsed toml++ table (a scenario's `[policy]`);
/// positions come from the table's nodes, `source` names the file they
/// point into.
[[nodiscard]] caf::expected<policy>
policy_from_table(const toml::table& table, const std::string& source,
                  std::vector<policy_warning>* warnings = nullptr);

/// Reads the scenario's `policy` key into `out.governance` (see scenario.hpp).
[[nodiscard]] caf::error attach_policy(const toml::table& root, const std::string& source,
                                       const std::filesystem::path& base_dir,
                                       scenario& out);

} // namespace troupe
