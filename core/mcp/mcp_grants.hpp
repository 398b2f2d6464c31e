#pragma once
// What a policy grants an MCP server's process. A stdio server starts once
// and serves every call of every run, so what it gets cannot depend on one
// call: it gets what the policy grants all of its tools, i.e. what the
// rules whose `tool` glob covers `NAME__*` (a `*` rule, or `NAME__*`) allow
// or ask with. A rule for one tool (`fs__write_file`) still decides that
// tool's calls, but cannot open the network or hand a secret to the whole
// server. Pure.

#include <string>
#include <vector>

#include "core/mcp/mcp_types.hpp"
#include "core/policy.hpp"

namespace troupe {

struct mcp_server_grants {
  /// Secret names the server receives: those its `[mcp.NAME].secrets`
  /// lists and a covering rule grants, sorted.
  std::vector<std::string> secrets;
  bool network = false;
  bool unsandboxed = false;
};

[[nodiscard]] mcp_server_grants grants_for_server(const policy& governance,
                                                  const mcp_server_config& server);

} // namespace troupe
