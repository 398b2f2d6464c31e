#include "core/external_tools.hpp"

#include "core/mcp/mcp_catalog.hpp"
#include "schemas/errors.hpp"

namespace troupe {

external_tool external_of(const tool_definition& def) {
  return {def.name, def.description, def.parameters.dump(), std::string(to_string(def.effect))};
}

caf::expected<std::shared_ptr<const tool_registry>>
with_external_tools(std::shared_ptr<const tool_registry> base,
                    const std::vector<external_tool>& tools) {
  if (tools.empty())
    return base;
  auto out = std::make_shared<tool_registry>(*base);
  for (auto& t : tools) {
    tool_definition def;
    def.name = t.name;
    def.description = t.description;
    def.parameters = nlohmann::json::parse(t.parameters_json, nullptr, false);
    if (t.effect == "pure")
      def.effect = tool_effect::pure;
    else if (t.effect == "idempotent")
      def.effect = tool_effect::idempotent;
    else if (t.effect == "unsafe")
      def.effect = tool_effect::unsafe;
    else
      return caf::make_error(runtime_errc::invalid_arguments,
                             "external tool '" + t.name + "' has unknown effect '" + t.effect
                               + "'; expected pure, idempotent or unsafe");
    auto server = mcp_server_of(t.name).value_or("?");
    def.handler = [server](const nlohmann::json&, const tool_context&) {
      return tool_outcome{false, "runs on MCP server '" + server + "', through its actor",
                          false};
    };
    if (auto err = out->add(std::move(def)))
      return caf::make_error(runtime_errc::invalid_arguments,
                             "external tool '" + t.name + "': " + render(err));
  }
  return std::shared_ptr<const tool_registry>(std::move(out));
}

} // namespace troupe
