// Anthropic Messages requests (POST {base_url}/v1/messages, headers
// x-api-key and anthropic-version):
//
//   {"model": M, "max_tokens": N, "system": S,
//    "messages": [{"role": "user", "content": U},
//                 {"role": "assistant", "content": [
//                    {"type": "text", "text": T},
//                    {"type": "tool_use", "id", "name", "input": {...}}]},
//                 {"role": "user", "content": [
//                    {"type": "tool_result", "tool_use_id", "content": R, "is_error": true?},
//                    {"type": "text", "text": U2}]}],
//    "tools": [{"name", "description", "input_schema"}],
//    "stream": true}
//
// Roles alternate: the results of one assistant turn's tool calls go into
// one user message, tool results first as the API requires, and a user
// message that follows them (a reminder) joins that message as text.
// System messages, wherever they are, join the top-level `system`. An
// assistant message with neither text nor tool calls is left out (the API
// refuses empty content). Tool ids are sanitized to the API's alphabet
// [A-Za-z0-9_-] on both sides, so ids from another provider (after a
// fallback) still pair up.

#include <cctype>

#include "core/providers/detail/providers.hpp"

namespace troupe::providers::detail {

namespace {

std::string tool_id(const std::string& id) {
  std::string out = id.empty() ? "_" : id;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      c = '_';
  return out;
}

json assistant_json(const chat_message& m) {
  json content = json::array();
  if (!m.content.empty())
    content.push_back({{"type", "text"}, {"text", m.content}});
  for (auto& c : m.tool_calls)
    content.push_back({{"type", "tool_use"},
                       {"id", tool_id(c.call_id)},
                       {"name", c.name},
                       {"input", arguments_object(c.args_json)}});
  return {{"role", "assistant"}, {"content", std::move(content)}};
}

json tool_result_json(const chat_message& m) {
  json block{{"type", "tool_result"}, {"tool_use_id", tool_id(m.tool_call_id)}};
  if (!m.content.empty())
    block["content"] = m.content;
  if (m.tool_error)
    block["is_error"] = true;
  return block;
}

// Whether the last message is a user message holding tool results, which
// more results and a following user text join.
bool open_results(const json& messages) {
  if (messages.empty())
    return false;
  auto& last = messages.back();
  return last.at("role") == "user" && last.at("content").is_array();
}

} // namespace

wire_request anthropic_request(const endpoint_config& e, const std::string& model,
                               const model_call& call, std::string_view api_key, bool stream) {
  std::string system;
  json messages = json::array();
  for (auto& m : call.messages) {
    switch (m.role) {
      case chat_role::system:
        if (!system.empty())
          system += "\n\n";
        system += m.content;
        break;
      case chat_role::user:
        if (open_results(messages))
          messages.back()["content"].push_back({{"type", "text"}, {"text", m.content}});
        else
          messages.push_back({{"role", "user"}, {"content", m.content}});
        break;
      case chat_role::assistant:
        if (!m.content.empty() || !m.tool_calls.empty())
          messages.push_back(assistant_json(m));
        break;
      case chat_role::tool:
        if (open_results(messages))
          messages.back()["content"].push_back(tool_result_json(m));
        else
          messages.push_back(
            {{"role", "user"}, {"content", json::array({tool_result_json(m)})}});
        break;
    }
  }

  json body{{"model", model}};
  // Required by the API; an endpoint configured with 0 gets the default.
  body["max_tokens"] = e.max_output_tokens != 0 ? e.max_output_tokens : 4096;
  if (!system.empty())
    body["system"] = system;
  body["messages"] = std::move(messages);
  if (!call.tools.empty()) {
    json tools = json::array();
    for (auto& t : call.tools) {
      json tool{{"name", t.name}};
      if (!t.description.empty())
        tool["description"] = t.description;
      tool["input_schema"] = schema_object(t.parameters_json);
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
  }
  body["stream"] = stream;

  wire_request req;
  req.path = "/v1/messages";
  req.headers.emplace_back("content-type", "application/json");
  if (!api_key.empty())
    req.headers.emplace_back("x-api-key", std::string(api_key));
  req.headers.emplace_back("anthropic-version", e.anthropic_version.empty()
                                                  ? std::string("2023-06-01")
                                                  : e.anthropic_version);
  req.body = dump(body);
  return req;
}

} // namespace troupe::providers::detail
