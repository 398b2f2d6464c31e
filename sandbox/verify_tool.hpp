#pragma once
// The `_verify` tool: runs the checks of a task or a team's gate
// (core/verification.hpp) in the run's workspace and reports each, as JSON:
// `{"results": [{"name", "kind", "ok", "output", "sha256", "bytes", "lines"}]}`.
//
// - file_exists: a regular file beneath the workspace (opened as the file
//   tools open, never following a link out); its SHA-256, size and lines.
// - json_matches: the file parses as JSON and matches the schema.
// - command_succeeds, test_passes: the argv runs through the `shell` tool
//   (sandboxed, no network, no secrets) and exits 0; the output's end is
//   reported. A check the policy denied carries `denied` and does not run.
//
// Internal: runs call it after `complete`; no scenario may offer it.

#include "core/tool.hpp"

namespace troupe {

/// `shell` runs the command checks.
[[nodiscard]] tool_definition make_verify_tool(tool_definition shell);

} // namespace troupe
