#pragma once
// How an MCP server's tools become troupe tools: the qualified name agents
// and policies use, which tools a scenario lets agents see, the effect class
// crash recovery treats them by, and the argument schema troupe enforces.
// Pure: the same inputs give the same catalog, so a run journals what it
// saw and replay rebuilds it without the server.
//
// Names. A tool `read_file` of `[mcp.fs]` is `fs__read_file`. Model
// providers accept tool names matching `[A-Za-z0-9_-]{1,64}`, so the dot
// other runtimes use is out; server names may not contain `_`, so the first
// `__` always ends the server part.
//
// Schemas. troupe validates arguments with its JSON Schema subset
// (core/json_schema.hpp) before the policy sees them. Keywords outside it
// (`default`, `format`, `pattern`, `anyOf`, schema-valued
// `additionalProperties`, ...) are dropped from the schema troupe enforces
// and shows the model: the server still validates its own schema, and a
// constraint troupe cannot check is better left to it than pretended. The
// dropped keywords are listed (`troupe mcp list`) so nobody is surprised;
// `$schema` and `$id` constrain nothing and go without a word.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mcp/mcp_types.hpp"
#include "core/policy.hpp"
#include "core/tool.hpp"

namespace troupe {

/// The separator between server and tool in a qualified name.
inline constexpr std::string_view mcp_name_separator = "__";

/// Whether `name` may name an `[mcp.NAME]`: `[A-Za-z0-9-]{1,32}`.
[[nodiscard]] bool valid_mcp_server_name(std::string_view name);

/// `server__tool`.
[[nodiscard]] std::string mcp_qualified_name(std::string_view server, std::string_view tool);

/// The server part of a qualified name, or nullopt when `name` is not one
/// (no `__`, or an invalid server part). Built-in tools never contain `__`.
[[nodiscard]] std::optional<std::string> mcp_server_of(std::string_view name);

/// `(server, tool)` of a qualified name; nullopt like `mcp_server_of`.
[[nodiscard]] std::optional<std::pair<std::string, std::string>>
split_mcp_name(std::string_view name);

/// Whether the scenario's `tools` patterns (globs over the server's own
/// tool names) let agents see `tool`.
[[nodiscard]] bool mcp_tool_visible(const mcp_server_config& server, std::string_view tool);

/// `readOnlyHint` → pure, else `idempotentHint` → idempotent, else unsafe;
/// the first matching override (the policy's `[[effect]]`) replaces that.
[[nodiscard]] tool_effect mcp_effect(const std::string& qualified, const mcp_annotations& hints,
                                     const std::vector<effect_override>& overrides);

/// The part of `schema` troupe enforces (see above) and the JSON pointers
/// of what was dropped, e.g. `/properties/path/format`. The result always
/// has `"type": "object"` at the top.
struct reduced_schema {
  nlohmann::json schema;
  std::vector<std::string> dropped;
};
[[nodiscard]] reduced_schema reduce_mcp_schema(const nlohmann::json& schema);

/// One MCP tool as a run sees it; what `run_start` journals of it.
struct mcp_tool_spec {
  std::string name; ///< qualified
  std::string description;
  nlohmann::json parameters; ///< the reduced schema
  tool_effect effect = tool_effect::unsafe;
  std::vector<std::string> dropped_keywords;
};

/// A server's tools that agents may see, in the server's order. Tools that
/// cannot be offered (qualified name not `[A-Za-z0-9_-]{1,64}`, a name seen
/// twice) are left out with a line each in `skipped`.
struct mcp_catalog {
  std::vector<mcp_tool_spec> tools;
  std::vector<std::string> skipped;
};
[[nodiscard]] mcp_catalog build_mcp_catalog(const mcp_server_config& server,
                                            const std::vector<mcp_tool>& listed,
                                            const std::vector<effect_override>& overrides);

/// One server's offer to a scenario's agents (`troupe mcp list`).
struct mcp_listing {
  std::string server; ///< the NAME of [mcp.NAME]
  mcp_catalog catalog;
};

/// Whether a call of an MCP tool names a path outside `workspace_root`:
/// its `path`, `paths`, `source`, `destination` and `cwd` arguments, when
/// absolute, must lie lexically inside the root, and none may climb with
/// `..`. Returns the offending path, or empty. MCP servers take absolute
/// paths (server-filesystem does), so the built-in tools' rule (any
/// absolute path leaves the workspace) would refuse every call.
[[nodiscard]] std::string mcp_path_outside(const nlohmann::json& args,
                                           std::string_view workspace_root);

} // namespace troupe
