#pragma once
// Reading the results of troupe's MCP requests: `initialize` (version
// negotiation), `tools/list` pages and `tools/call` results. Pure and
// tolerant: what a real server gets slightly wrong (a tool without a
// schema, a block type troupe does not know) is read as well as it can be,
// and what cannot be used is named.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/mcp/mcp_errc.hpp"
#include "core/mcp/mcp_types.hpp"
#include "core/mcp/mcp_wire.hpp"

namespace troupe {

/// What `initialize` told us about the server.
struct mcp_server_info {
  std::string name;             ///< serverInfo.name; may be empty
  std::string title;            ///< serverInfo.title; may be empty
  std::string version;          ///< serverInfo.version; may be empty
  std::string protocol_version; ///< the negotiated revision
  bool has_tools = false;       ///< capabilities.tools present
  bool list_changed = false;    ///< capabilities.tools.listChanged
  std::string instructions;     ///< may be empty
};

/// Reads an `initialize` result. The server's `protocolVersion` is
/// accepted when it is one of mcp_protocol_versions() (the server may
/// answer an older revision than the one offered).
/// Errors: `mcp_errc::unsupported_version` naming the server's revision and
/// ours; `mcp_errc::malformed_reply` when the result is not an object or has
/// no string `protocolVersion`.
[[nodiscard]] caf::expected<mcp_server_info> negotiate_version(const nlohmann::json& result);

/// One page of `tools/list`.
struct mcp_tools_page {
  std::vector<mcp_tool> tools;
  std::string next_cursor; ///< empty: the last page
  /// What was skipped or replaced, one line each ("tools[2]: no string
  /// 'name', skipped"); for a warning.
  std::vector<std::string> warnings;
};

/// Reads a `tools/list` result. A tool without a string name is skipped;
/// one without an object `inputSchema` gets `{"type":"object"}`; boolean
/// annotations are kept, others ignored.
/// Errors: `mcp_errc::malformed_reply` when the result is not an object or
/// has no `tools` array.
[[nodiscard]] caf::expected<mcp_tools_page> parse_tools_page(const nlohmann::json& result);

/// Reads a `tools/call` result (`answered` is set). Content blocks become
/// text, joined with "\n" in their order:
///   text                            its text
///   image, audio                    `[image image/png, 1234 bytes]` (decoded size)
///   resource_link                   `[resource_link URI]`
///   resource (embedded)             its text, else `[resource URI MIME]`
///   other types                     `[TYPE content]`
/// `structuredContent` is added as compact JSON when no block carried text.
/// `isError: true` makes a failed result. A result that is not an object is
/// a failed result saying so.
[[nodiscard]] mcp_call_result parse_call_result(const nlohmann::json& result);

/// A JSON-RPC error answering `tools/call`: answered, failed, text and error
/// `error CODE: MESSAGE`.
[[nodiscard]] mcp_call_result call_error_result(const mcp_rpc_error& error);

/// A classified response to `tools/call`: its result or its error.
[[nodiscard]] mcp_call_result parse_call_result(const mcp_incoming& response);

/// Decoded size of base64 text (whitespace ignored, padding subtracted).
[[nodiscard]] uint64_t base64_decoded_size(std::string_view base64);

} // namespace troupe
