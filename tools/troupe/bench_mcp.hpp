#pragma once
// `troupe bench mcp`: a trivial MCP tool (server-everything's `echo`) called
// through troupe's whole governed path (envelope, scope boundary, policy
// decision, durable intent, the server actor, the result journaled) against
// the same server called directly by a minimal client (one session, no
// journal), measured in the same run.

#include <cstdint>
#include <string>

namespace troupe::cli {

struct bench_mcp_options {
  uint64_t calls = 200; ///< calls per phase
  bool json = false;    ///< one JSON object on stdout, no progress lines
  /// The stdio MCP server to call (its `echo` tool); empty:
  /// build-mcp-peers/node_modules/.bin/mcp-server-everything below the
  /// current directory (scripts/mcp-peers.sh installs it).
  std::string server;
};

/// Exit codes: 0 measured, 1 when a phase failed, 64 without a server.
int bench_mcp(const bench_mcp_options& opts);

} // namespace troupe::cli
