#include "core/mcp/mcp_catalog.hpp"

#include <set>

#include "core/glob.hpp"
#include "core/json_schema.hpp"

namespace troupe {

namespace {

bool is_name_char(char c, bool allow_underscore) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
         || (allow_underscore && c == '_');
}

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name)
    if (!is_name_char(c, true))
      return false;
  return true;
}

// Keywords core/json_schema.hpp enforces or accepts as annotations. Each
// value is kept only in the shape the validator supports.
void keep_supported(const nlohmann::json& in, nlohmann::json& out, const std::string& where,
            std::vector<std::string>& dropped) {
  out = nlohmann::json::object();
  if (!in.is_object()) {
    dropped.push_back(where.empty() ? "/" : where);
    return;
  }
  for (auto& [key, value] : in.items()) {
    auto at = where + "/" + key;
    if (key == "properties" && value.is_object()) {
      auto& props = out[key] = nlohmann::json::object();
      for (auto& [name, sub] : value.items())
        keep_supported(sub, props[name], at + "/" + name, dropped);
    } else if (key == "items" && value.is_object()) {
      keep_supported(value, out[key], at, dropped);
    } else if (key == "$schema" || key == "$id") {
      // Which dialect the schema is written in, and its name: no constraint,
      // nothing to report.
    } else if (key == "additionalProperties" && !value.is_boolean()) {
      dropped.push_back(at); // a schema there is not enforced by troupe
    } else if (key == "type" || key == "required" || key == "additionalProperties"
               || key == "enum" || key == "const" || key == "minLength" || key == "maxLength"
               || key == "minimum" || key == "maximum" || key == "minItems"
               || key == "maxItems" || key == "description" || key == "title"
               || key == "$comment") {
      out[key] = value;
    } else {
      dropped.push_back(at);
    }
  }
}

} // namespace

bool valid_mcp_server_name(std::string_view name) {
  if (name.empty() || name.size() > 32)
    return false;
  for (char c : name)
    if (!is_name_char(c, false))
      return false;
  return true;
}

std::string mcp_qualified_name(std::string_view server, std::string_view tool) {
  std::string out(server);
  out.append(mcp_name_separator).append(tool);
  return out;
}

std::optional<std::pair<std::string, std::string>> split_mcp_name(std::string_view name) {
  auto sep = name.find(mcp_name_separator);
  if (sep == std::string_view::npos)
    return std::nullopt;
  auto server = name.substr(0, sep);
  if (!valid_mcp_server_name(server))
    return std::nullopt;
  return std::make_pair(std::string(server),
                        std::string(name.substr(sep + mcp_name_separator.size())));
}

std::optional<std::string> mcp_server_of(std::string_view name) {
  auto parts = split_mcp_name(name);
  if (!parts)
    return std::nullopt;
  return std::move(parts->first);
}

bool mcp_tool_visible(const mcp_server_config& server, std::string_view tool) {
  for (auto& pattern : server.tools)
    if (glob_match(pattern, tool, glob_kind::name))
      return true;
  return false;
}

tool_effect mcp_effect(const std::string& qualified, const mcp_annotations& hints,
                       const std::vector<effect_override>& overrides) {
  for (auto& o : overrides)
    if (glob_match(o.tool, qualified, glob_kind::name))
      return o.effect;
  if (hints.read_only.value_or(false))
    return tool_effect::pure;
  if (hints.idempotent.value_or(false))
    return tool_effect::idempotent;
  return tool_effect::unsafe;
}

reduced_schema reduce_mcp_schema(const nlohmann::json& schema) {
  reduced_schema r;
  keep_supported(schema, r.schema, "", r.dropped);
  if (!r.schema.contains("type"))
    r.schema["type"] = "object";
  if (r.schema["type"] != "object" || check_schema(r.schema)) {
    // Still not a schema troupe can enforce (a top level that is no object,
    // a keyword of the wrong shape): enforce only that it is an object.
    r.dropped = {"/"};
    r.schema = {{"type", "object"}};
  }
  return r;
}

mcp_catalog build_mcp_catalog(const mcp_server_config& server,
                              const std::vector<mcp_tool>& listed,
                              const std::vector<effect_override>& overrides) {
  mcp_catalog c;
  std::set<std::string> seen;
  for (auto& t : listed) {
    if (!mcp_tool_visible(server, t.name))
      continue;
    auto name = mcp_qualified_name(server.name, t.name);
    if (!valid_tool_name(name)) {
      c.skipped.push_back("'" + t.name + "': its qualified name '" + name
                          + "' is not [A-Za-z0-9_-]{1,64}, which model providers require");
      continue;
    }
    if (!seen.insert(name).second) {
      c.skipped.push_back("'" + t.name + "': listed twice by the server");
      continue;
    }
    auto reduced = reduce_mcp_schema(t.input_schema);
    auto description = t.description.empty() ? t.title : t.description;
    c.tools.push_back({std::move(name), std::move(description), std::move(reduced.schema),
                       mcp_effect(mcp_qualified_name(server.name, t.name), t.annotations,
                                  overrides),
                       std::move(reduced.dropped)});
  }
  return c;
}

std::string mcp_path_outside(const nlohmann::json& args, std::string_view workspace_root) {
  if (!args.is_object())
    return {};
  auto outside = [&](const std::string& p) {
    if (p.empty())
      return false;
    bool climbs = false;
    size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find('/', start);
      if (end == std::string::npos)
        end = p.size();
      if (p.compare(start, end - start, "..") == 0)
        climbs = true;
      start = end + 1;
    }
    if (climbs)
      return true;
    if (p.front() != '/')
      return false;
    std::string_view v(p);
    return !(v == workspace_root
             || (v.size() > workspace_root.size() && v.substr(0, workspace_root.size()) == workspace_root
                 && v[workspace_root.size()] == '/'));
  };
  for (const char* key : {"path", "paths", "source", "destination", "cwd"}) {
    auto i = args.find(key);
    if (i == args.end())
      continue;
    if (i->is_string() && outside(i->get<std::string>()))
      return i->get<std::string>();
    if (i->is_array())
      for (auto& p : *i)
        if (p.is_string() && outside(p.get<std::string>()))
          return p.get<std::string>();
  }
  return {};
}

} // namespace troupe
