#pragma once
// What troupe knows of an MCP server and its tools: plain values shared by
// the pure wire code (core/mcp/), the client (mcp/), the server actor
// (actors/mcp_server) and the scenario parser. Nothing here does I/O.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sandbox_spec.hpp"

namespace troupe {

/// The protocol revisions this client speaks, newest first. `initialize`
/// offers the first; a server answering another one of these is accepted.
inline const std::vector<std::string>& mcp_protocol_versions() {
  static const std::vector<std::string> versions{"2025-11-25", "2025-06-18"};
  return versions;
}

/// A tool's behaviour hints (MCP `ToolAnnotations`); absent when the server
/// did not say. Hints, not guarantees: troupe maps them to an effect class
/// (`readOnlyHint` → pure, `idempotentHint` → idempotent, else unsafe), and
/// the policy may override it per tool.
struct mcp_annotations {
  std::optional<bool> read_only;
  std::optional<bool> destructive;
  std::optional<bool> idempotent;
  std::optional<bool> open_world;
};

/// One tool as `tools/list` describes it.
struct mcp_tool {
  std::string name;        ///< the server's name for it
  std::string title;       ///< may be empty
  std::string description; ///< may be empty
  nlohmann::json input_schema = nlohmann::json::object();
  mcp_annotations annotations;
};

/// What one `tools/call` came back with, before troupe turns it into a
/// tool outcome.
struct mcp_call_result {
  /// The server answered (a result or a JSON-RPC error). False: it never did
  /// (timeout, crash, cancel, transport failure); `error` says which.
  bool answered = false;
  /// The result's `isError`, or a JSON-RPC error answer.
  bool is_error = false;
  /// Text blocks joined with newlines; other block types summarized, e.g.
  /// `[image image/png, 1234 bytes]`; a JSON-RPC error as `code: message`.
  std::string text;
  /// Why the call has no answer, or what the JSON-RPC error was; empty on a
  /// normal result.
  std::string error;
  /// The call may succeed when tried again (timeout, server restarted).
  bool retryable = false;
};

/// A stdio server's sandbox limits unless its scenario says otherwise. The
/// server stays up across calls, so there is no wall timeout and the CPU
/// limit is for its whole life; Node.js reserves about 1 GiB of address
/// space at start (at 512 MiB it aborts), hence 4 GiB.
inline sandbox_limits mcp_server_limits() {
  sandbox_limits l;
  l.cpu_seconds = 3600;
  l.address_space_bytes = 4096 * sandbox_mib;
  l.wall_timeout_ms = 0;
  return l;
}

/// `[mcp.NAME]` of a scenario: how to reach one server and which of its
/// tools agents may see.
struct mcp_server_config {
  /// `[A-Za-z0-9-]{1,32}`: the prefix of its tools' qualified names
  /// (`NAME__tool`, see core/mcp/mcp_names.hpp).
  std::string name;
  /// stdio transport: argv, never passed to a shell. Exactly one of
  /// `command` and `url` is set.
  std::vector<std::string> command;
  /// Streamable HTTP transport: the MCP endpoint URL (http or https).
  std::string url;
  /// Extra environment of a stdio server (besides PATH, HOME, LANG and the
  /// granted secrets); extra request headers are not configurable.
  std::map<std::string, std::string> env;
  /// Secret names the policy may grant the server (as environment variables
  /// of a stdio server, as `Authorization: Bearer` of an HTTP one when one
  /// is named `bearer_secret`).
  std::vector<std::string> secrets;
  /// Which of the server's tools agents may see, as globs over the server's
  /// own tool names; empty: none (a server must say what it exposes).
  std::vector<std::string> tools;
  /// Host paths bound read-only into a stdio server's sandbox (its
  /// interpreter's libraries, its installed package); empty: derived from
  /// the command's own location (see docs/scenario-format.md).
  std::vector<std::filesystem::path> read_only;
  /// Secret whose value is sent as `Authorization: Bearer` (HTTP only).
  std::string bearer_secret;
  /// A stdio server's rlimits and /tmp size (`wall_timeout_ms` stays 0).
  sandbox_limits limits = mcp_server_limits();
  uint64_t startup_timeout_ms = 30000; ///< spawn to the end of `initialize`
  uint64_t call_timeout_ms = 60000;    ///< one `tools/call`
};

} // namespace troupe
