#pragma once
// The runtime's MCP servers: one supervised actor per (scenario, [mcp.NAME])
// (actors/mcp_server.hpp), spawned the first time a run of that scenario
// needs it and kept until the runtime goes; what the policy grants each one
// (core/mcp/mcp_grants.hpp); and the tools each offers, as the catalog a new
// run journals (core/mcp/mcp_catalog.hpp). Internal to the facade.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "core/mcp/mcp_catalog.hpp"
#include "core/scenario.hpp"
#include "core/secrets.hpp"

namespace troupe::net {
class http_client;
} // namespace troupe::net

namespace troupe {

class mcp_wiring {
public:
  mcp_wiring(caf::actor_system& sys, std::shared_ptr<const secret_store> secrets);
  ~mcp_wiring();

  /// The server actors of `sc`, by server name; spawns those not running
  /// yet (they start their servers on their own threads). Never blocks.
  /// Errors: `runtime_errc::invalid_scenario` when a granted secret has no
  /// value or the HTTP client cannot start.
  [[nodiscard]] caf::expected<std::map<std::string, caf::actor>> actors_for(const scenario& sc);

  /// What every server of `sc` offers its agents now: lists each server's
  /// tools (starting it if needed; blocks for at most its startup and list
  /// timeouts). Errors: a server that cannot be started, naming it and why.
  [[nodiscard]] caf::expected<std::vector<mcp_listing>> offers(const scenario& sc);

  /// Stops every server actor (and with it every server process).
  void stop_all();

private:
  caf::expected<caf::actor> actor_for(const scenario& sc, const mcp_server_config& server);

  caf::actor_system& sys_;
  std::shared_ptr<const secret_store> secrets_;
  std::mutex mtx_;
  std::map<std::string, caf::actor> actors_; ///< by scenario source + "#" + server
  std::shared_ptr<net::http_client> http_;   ///< started with the first HTTP server
};

/// The tools of `offers` as `run_start` journals them.
[[nodiscard]] std::vector<external_tool> external_tools_of(const std::vector<mcp_listing>& offers);

} // namespace troupe
