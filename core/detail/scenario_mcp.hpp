#pragma once
// The [mcp.NAME] tables of a scenario (docs/scenario-format.md): the MCP
// servers whose tools agents may call. Called by parse_scenario before
// [agents], whose `tools` may name them.

#include <filesystem>
#include <string>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "core/scenario.hpp"

namespace troupe::detail {

/// Fills `out.mcp_servers`. `${workspace}` in a command argument or an
/// environment value becomes the workspace root (parse it first). Errors as
/// parse_scenario's.
[[nodiscard]] caf::error parse_mcp_tables(const toml::table& root, const std::string& source,
                                          const std::filesystem::path& base_dir, scenario& out);

} // namespace troupe::detail
