#include "core/mcp/mcp_replies.hpp"

#include <algorithm>

#include "core/envelope.hpp"
#include "core/providers/detail/wire_json.hpp"

namespace troupe {

using nlohmann::json;

namespace {

const char* json_type(const json& v) {
  return providers::detail::type_name(v);
}

std::string string_member(const json& obj, const char* key) {
  if (!obj.is_object())
    return {};
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return {};
  return it->get<std::string>();
}

std::optional<bool> bool_member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_boolean())
    return std::nullopt;
  return it->get<bool>();
}

std::string versions_we_speak() {
  std::string out;
  for (const auto& v : mcp_protocol_versions()) {
    if (!out.empty())
      out += ", ";
    out += v;
  }
  return out;
}

mcp_annotations read_annotations(const json& a) {
  mcp_annotations out;
  if (!a.is_object())
    return out;
  out.read_only = bool_member(a, "readOnlyHint");
  out.destructive = bool_member(a, "destructiveHint");
  out.idempotent = bool_member(a, "idempotentHint");
  out.open_world = bool_member(a, "openWorldHint");
  return out;
}

// One entry of `tools`; nullopt (and a warning) when it has no usable name.
std::optional<mcp_tool> read_tool(const json& t, size_t index,
                                  std::vector<std::string>& warnings) {
  std::string where = "tools[" + std::to_string(index) + "]";
  if (!t.is_object()) {
    warnings.push_back(where + ": " + json_type(t) + ", not an object; skipped");
    return std::nullopt;
  }
  auto name = t.find("name");
  if (name == t.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    warnings.push_back(where + ": no string 'name'; skipped");
    return std::nullopt;
  }
  mcp_tool tool;
  tool.name = name->get<std::string>();
  where += " '" + escape_unprintable(tool.name, 80) + "'";
  tool.description = string_member(t, "description");
  auto annotations = t.find("annotations");
  if (annotations != t.end())
    tool.annotations = read_annotations(*annotations);
  tool.title = string_member(t, "title");
  // Revisions before 2025-06-18 carried the title in the annotations.
  if (tool.title.empty() && annotations != t.end())
    tool.title = string_member(*annotations, "title");
  auto schema = t.find("inputSchema");
  if (schema != t.end() && schema->is_object()) {
    tool.input_schema = *schema;
  } else {
    tool.input_schema = json{{"type", "object"}};
    if (schema != t.end())
      warnings.push_back(where + ": 'inputSchema' is " + json_type(*schema)
                         + "; taken as {\"type\":\"object\"}");
  }
  return tool;
}

std::string media_summary(const std::string& type, const json& block) {
  std::string mime = string_member(block, "mimeType");
  std::string data = string_member(block, "data");
  std::string out = "[" + type;
  if (!mime.empty())
    out += " " + escape_unprintable(mime, 100);
  out += ", " + std::to_string(base64_decoded_size(data)) + " bytes]";
  return out;
}

// One content block as text; `has_text` is set when it carried text of its
// own (not a summary).
std::string block_text(const json& block, bool& has_text) {
  if (!block.is_object())
    return std::string{"["} + json_type(block) + " content]";
  std::string type = string_member(block, "type");
  if (type == "text") {
    has_text = true;
    return string_member(block, "text");
  }
  if (type == "image" || type == "audio")
    return media_summary(type, block);
  if (type == "resource_link")
    return "[resource_link " + escape_unprintable(string_member(block, "uri"), 500) + "]";
  if (type == "resource") {
    auto res = block.find("resource");
    if (res != block.end() && res->is_object()) {
      if (auto text = res->find("text"); text != res->end() && text->is_string()) {
        has_text = true;
        return text->get<std::string>();
      }
      std::string out = "[resource " + escape_unprintable(string_member(*res, "uri"), 500);
      std::string mime = string_member(*res, "mimeType");
      if (!mime.empty())
        out += " " + escape_unprintable(mime, 100);
      return out + "]";
    }
    return "[resource]";
  }
  if (type.empty())
    return "[untyped content]";
  return "[" + escape_unprintable(type, 60) + " content]";
}

} // namespace

caf::expected<mcp_server_info> negotiate_version(const json& result) {
  if (!result.is_object())
    return caf::make_error(mcp_errc::malformed_reply,
                           std::string{"the initialize result is "} + json_type(result)
                             + ", not an object");
  auto version = result.find("protocolVersion");
  if (version == result.end() || !version->is_string())
    return caf::make_error(mcp_errc::malformed_reply,
                           "the initialize result has no string 'protocolVersion'");
  const auto& ours = mcp_protocol_versions();
  std::string theirs = version->get<std::string>();
  if (std::find(ours.begin(), ours.end(), theirs) == ours.end())
    return caf::make_error(mcp_errc::unsupported_version,
                           "the server answered protocol version '"
                             + escape_unprintable(theirs, 60) + "' to our offer of '"
                             + ours.front() + "'; troupe speaks " + versions_we_speak());
  mcp_server_info info;
  info.protocol_version = std::move(theirs);
  if (auto si = result.find("serverInfo"); si != result.end()) {
    info.name = string_member(*si, "name");
    info.title = string_member(*si, "title");
    info.version = string_member(*si, "version");
  }
  if (auto caps = result.find("capabilities"); caps != result.end() && caps->is_object()) {
    if (auto tools = caps->find("tools"); tools != caps->end() && tools->is_object()) {
      info.has_tools = true;
      info.list_changed = bool_member(*tools, "listChanged").value_or(false);
    }
  }
  info.instructions = string_member(result, "instructions");
  return info;
}

caf::expected<mcp_tools_page> parse_tools_page(const json& result) {
  if (!result.is_object())
    return caf::make_error(mcp_errc::malformed_reply,
                           std::string{"the tools/list result is "} + json_type(result)
                             + ", not an object");
  auto tools = result.find("tools");
  if (tools == result.end() || !tools->is_array())
    return caf::make_error(mcp_errc::malformed_reply,
                           "the tools/list result has no 'tools' array");
  mcp_tools_page page;
  for (size_t i = 0; i < tools->size(); ++i)
    if (auto tool = read_tool((*tools)[i], i, page.warnings))
      page.tools.push_back(std::move(*tool));
  if (auto cursor = result.find("nextCursor"); cursor != result.end() && !cursor->is_null()) {
    if (cursor->is_string())
      page.next_cursor = cursor->get<std::string>();
    else
      page.warnings.push_back(std::string{"'nextCursor' is "} + json_type(*cursor)
                              + ", not a string; no further pages read");
  }
  return page;
}

mcp_call_result parse_call_result(const json& result) {
  mcp_call_result out;
  out.answered = true;
  if (!result.is_object()) {
    out.is_error = true;
    out.error = std::string{"the tools/call result is "} + json_type(result)
                + ", not an object";
    out.text = out.error;
    return out;
  }
  out.is_error = bool_member(result, "isError").value_or(false);
  bool has_text = false;
  std::vector<std::string> parts;
  if (auto content = result.find("content"); content != result.end() && content->is_array())
    for (const auto& block : *content)
      parts.push_back(block_text(block, has_text));
  if (!has_text)
    if (auto sc = result.find("structuredContent"); sc != result.end() && !sc->is_null())
      parts.push_back(mcp_serialize(*sc));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0)
      out.text += '\n';
    out.text += parts[i];
  }
  return out;
}

mcp_call_result call_error_result(const mcp_rpc_error& error) {
  mcp_call_result out;
  out.answered = true;
  out.is_error = true;
  out.text = "error " + std::to_string(error.code) + ": " + error.message;
  out.error = out.text;
  return out;
}

mcp_call_result parse_call_result(const mcp_incoming& response) {
  if (response.error)
    return call_error_result(*response.error);
  return parse_call_result(response.result);
}

uint64_t base64_decoded_size(std::string_view base64) {
  uint64_t chars = 0;
  uint64_t padding = 0;
  for (char c : base64) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    if (c == '=')
      ++padding;
    else
      padding = 0; // '=' counts only at the end
    ++chars;
  }
  uint64_t bytes = chars / 4 * 3 + (chars % 4 == 0 ? 0 : (chars % 4) * 6 / 8);
  return bytes - std::min<uint64_t>(std::min<uint64_t>(padding, 2), bytes);
}

} // namespace troupe
