#include "core/mcp/mcp_grants.hpp"

#include <algorithm>
#include <set>

#include "core/glob.hpp"
#include "core/mcp/mcp_catalog.hpp"

namespace troupe {

namespace {

// A glob covers every tool of the server when it matches the literal name
// `NAME__*`: `*` does, `NAME__*` does, `NAME__read_file` does not. (`*`
// in the text is an ordinary character here, and a glob `*` matches it.)
bool covers_server(const policy_rule& rule, const std::string& server) {
  return rule.agents.empty() && rule.roles.empty() && rule.tenants.empty() && rule.paths.empty()
         && rule.command_prefix.empty() && rule.command.empty() && rule.hosts.empty()
         && glob_match(rule.tool, mcp_qualified_name(server, "*"), glob_kind::name);
}

} // namespace

mcp_server_grants grants_for_server(const policy& governance, const mcp_server_config& server) {
  mcp_server_grants g;
  std::set<std::string> secrets;
  for (auto& rule : governance.rules) {
    if (rule.decision == decision_kind::deny || !covers_server(rule, server.name))
      continue;
    for (auto& s : rule.secrets)
      if (std::find(server.secrets.begin(), server.secrets.end(), s) != server.secrets.end())
        secrets.insert(s);
    g.network = g.network || rule.network;
    g.unsandboxed = g.unsandboxed || rule.unsandboxed;
  }
  g.secrets.assign(secrets.begin(), secrets.end());
  return g;
}

} // namespace troupe
