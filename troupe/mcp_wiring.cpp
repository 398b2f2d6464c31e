#include "troupe/mcp_wiring.hpp"

#include <chrono>
#include <filesystem>

#include <caf/all.hpp>

#include "actors/mcp_server.hpp"
#include "core/mcp/mcp_errc.hpp"
#include "core/mcp/mcp_grants.hpp"
#include "core/runtime_errc.hpp"
#include "net/http_client.hpp"
#include "schemas/errors.hpp"

namespace troupe {

mcp_wiring::mcp_wiring(caf::actor_system& sys, std::shared_ptr<const secret_store> secrets)
  : sys_(sys), secrets_(std::move(secrets)) {}

mcp_wiring::~mcp_wiring() {
  stop_all();
}

caf::expected<caf::actor> mcp_wiring::actor_for(const scenario& sc,
                                                const mcp_server_config& server) {
  // Keyed like run_start names scenarios (absolute path of a file), so a
  // resumed run and a new one of the same file share the server.
  std::error_code exists_ec;
  auto source = std::filesystem::exists(sc.source, exists_ec)
                  ? std::filesystem::absolute(sc.source, exists_ec).lexically_normal().string()
                  : sc.source;
  auto key = source + "#" + server.name;
  if (auto i = actors_.find(key); i != actors_.end())
    return i->second;
  // The server's working directory and only writable root.
  std::error_code ec;
  std::filesystem::create_directories(sc.workspace_root, ec);
  if (ec)
    return caf::make_error(runtime_errc::io_failed, sc.source + ": cannot create workspace "
                                                      + sc.workspace_root.string() + ": "
                                                      + ec.message());
  auto grants = grants_for_server(sc.governance, server);
  mcp::server_setup setup;
  setup.config = server;
  setup.workspace = sc.workspace_root;
  setup.network = grants.network;
  setup.unsandboxed = grants.unsandboxed;
  setup.env = server.env;
  for (auto& name : grants.secrets) {
    auto value = secrets_->get(name);
    if (!value)
      return caf::make_error(runtime_errc::invalid_scenario,
                             sc.source + ": [mcp." + server.name + "]: the policy grants secret '"
                               + name + "', which has no value (secrets file or environment)");
    if (name == server.bearer_secret)
      setup.bearer_token = *value;
    else
      setup.env[name] = *value;
  }
  if (!server.url.empty()) {
    if (!http_) {
      auto started = net::http_client::start();
      if (!started)
        return caf::make_error(runtime_errc::invalid_scenario,
                               sc.source + ": [mcp." + server.name + "]: " + render(started.error()));
      http_ = std::move(*started);
    }
    setup.http = http_;
  }
  auto actor = spawn_mcp_server(sys_, std::move(setup));
  actors_.emplace(key, actor);
  return actor;
}

caf::expected<std::map<std::string, caf::actor>> mcp_wiring::actors_for(const scenario& sc) {
  std::map<std::string, caf::actor> out;
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& [name, server] : sc.mcp_servers) {
    auto actor = actor_for(sc, server);
    if (!actor)
      return std::move(actor.error());
    out.emplace(name, std::move(*actor));
  }
  return out;
}

caf::expected<std::vector<mcp_listing>> mcp_wiring::offers(const scenario& sc) {
  auto actors = actors_for(sc);
  if (!actors)
    return std::move(actors.error());
  std::vector<mcp_listing> out;
  caf::scoped_actor self{sys_};
  for (auto& [name, actor] : *actors) {
    auto& server = sc.mcp_servers.at(name);
    // The actor may be starting the server (startup timeout) and then lists
    // its tools (its own bound); a margin on top for the mailbox.
    auto bound = std::chrono::milliseconds{server.startup_timeout_ms + 60000};
    caf::error failed;
    std::vector<mcp_tool> listed;
    self->request(actor, bound, mcp_tools_atom::value)
      .receive([&](std::vector<mcp_tool>& tools) { listed = std::move(tools); },
               [&](caf::error& err) { failed = std::move(err); });
    if (failed) // not the scenario's fault: exit 1, not 64
      return caf::make_error(mcp_errc::start_failed,
                             sc.source + ": [mcp." + name + "]: " + render(failed));
    out.push_back({name, build_mcp_catalog(server, listed, sc.governance.effects)});
  }
  return out;
}

void mcp_wiring::stop_all() {
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& [key, actor] : actors_)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  actors_.clear();
}

std::vector<external_tool> external_tools_of(const std::vector<mcp_listing>& offers) {
  std::vector<external_tool> out;
  for (auto& offer : offers)
    for (auto& t : offer.catalog.tools)
      out.push_back({t.name, t.description, t.parameters.dump(), std::string(to_string(t.effect))});
  return out;
}

} // namespace troupe
