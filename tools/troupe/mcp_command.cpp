// troupe mcp list SCENARIO: starts the scenario's MCP servers as a run would
// (sandboxed, with what the policy grants), lists what each offers its
// agents, and stops them. Touches no journal.

#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "core/scenario.hpp"
#include "core/secrets.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "troupe/mcp_wiring.hpp"

namespace troupe::cli {

namespace {

nlohmann::ordered_json listing_json(const mcp_listing& l) {
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  for (auto& t : l.catalog.tools)
    tools.push_back({{"name", t.name},
                     {"effect", to_string(t.effect)},
                     {"description", t.description},
                     {"parameters", t.parameters},
                     {"dropped_keywords", t.dropped_keywords}});
  return {{"server", l.server}, {"tools", tools}, {"skipped", l.catalog.skipped}};
}

void print_text(const std::vector<mcp_listing>& listings) {
  for (auto& l : listings) {
    std::cout << "[mcp." << l.server << "] " << l.catalog.tools.size() << " tools\n";
    for (auto& t : l.catalog.tools) {
      std::cout << "  " << t.name << "  " << to_string(t.effect);
      if (!t.dropped_keywords.empty()) {
        std::cout << "  (not enforced:";
        for (auto& k : t.dropped_keywords)
          std::cout << ' ' << k;
        std::cout << ')';
      }
      auto line = t.description.substr(0, t.description.find('\n'));
      if (line.size() > 100)
        line = line.substr(0, 97) + "...";
      std::cout << "\n    " << line << "\n";
    }
    for (auto& s : l.catalog.skipped)
      std::cout << "  skipped " << s << "\n";
  }
}

} // namespace

int mcp_list(const common_options& opts, const std::string& scenario_path,
             const std::string& secrets_file) {
  auto sc = load_console_scenario(scenario_path);
  if (!sc)
    return report(sc.error());
  auto secrets = std::make_shared<secret_store>();
  if (!secrets_file.empty()) {
    auto loaded = secret_store::load(secrets_file);
    if (!loaded)
      return report(loaded.error());
    *secrets = std::move(*loaded);
  }
  if (sc->mcp_servers.empty()) {
    std::cerr << "troupe: " << scenario_path << " declares no [mcp.NAME] server\n";
    return exit_usage;
  }
  std::error_code ec;
  std::filesystem::create_directories(sc->workspace_root, ec);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  mcp_wiring servers{sys, secrets};
  auto offers = servers.offers(*sc);
  servers.stop_all();
  if (!offers)
    return report(offers.error());
  if (opts.json) {
    auto arr = nlohmann::ordered_json::array();
    for (auto& l : *offers)
      arr.push_back(listing_json(l));
    std::cout << to_json_text(arr) << std::endl;
  } else {
    print_text(*offers);
  }
  return exit_ok;
}

} // namespace troupe::cli
