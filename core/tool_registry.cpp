#include "core/tool_registry.hpp"

#include "core/json_schema.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

constexpr size_t max_name_length = 64;

// Providers (OpenAI, Anthropic) reject other tool names; refusing them here
// turns a confusing provider error into a startup error.
bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length)
    return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

caf::error fail(std::string msg) {
  return caf::make_error(runtime_errc::invalid_arguments, std::move(msg));
}

} // namespace

caf::error tool_registry::add(tool_definition def) {
  if (def.name.empty())
    return fail("cannot register a tool with an empty name");
  if (!is_valid_name(def.name))
    return fail("cannot register tool "
                + nlohmann::json(def.name).dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace)
                + ": names must match [A-Za-z0-9_-]{1,64}");
  if (tools_.count(def.name) != 0)
    return fail("cannot register tool '" + def.name + "': a tool with that name "
                "is already registered");
  if (!def.handler)
    return fail("cannot register tool '" + def.name + "': it has no handler");
  if (auto err = check_schema(def.parameters))
    return fail("cannot register tool '" + def.name + "': parameters "
                + render(err));
  auto type = def.parameters.find("type");
  if (type == def.parameters.end() || *type != "object")
    return fail("cannot register tool '" + def.name + "': parameters schema must "
                "have \"type\": \"object\" at the top level (tool arguments are "
                "always a JSON object)");
  auto name = def.name;
  tool_spec spec{def.name, def.description, def.parameters.dump()};
  tools_.emplace(std::move(name), entry{std::move(def), std::move(spec)});
  return caf::none;
}

const tool_definition* tool_registry::find(std::string_view name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : &it->second.def;
}

const tool_spec* tool_registry::spec(std::string_view name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : &it->second.spec;
}

std::vector<std::string> tool_registry::names() const {
  std::vector<std::string> out;
  out.reserve(tools_.size());
  for (const auto& entry : tools_)
    out.push_back(entry.first);
  return out;
}

} // namespace troupe
