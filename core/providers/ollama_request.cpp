// Ollama's native chat requests (POST {base_url}/api/chat):
//
//   {"model": M,
//    "messages": [{"role": "system", "content": S},
//                 {"role": "user", "content": U},
//                 {"role": "assistant", "content": T,
//                  "tool_calls": [{"id", "function": {"name", "arguments": {...}}}]},
//                 {"role": "tool", "content": R, "tool_name": N, "tool_call_id": ID}],
//    "tools": [{"type": "function", "function": {"name", "description", "parameters"}}],
//    "stream": true | false}
//
// `stream` is always written: Ollama streams unless told not to. Arguments
// are an object. Tool messages name their tool (`tool_name`, looked up from
// the call they answer); newer servers also read `tool_call_id` and the
// calls' `id`, older ones ignore both.

#include "core/providers/detail/providers.hpp"

namespace troupe::providers::detail {

namespace {

json message_json(const chat_message& m, const model_call& call) {
  switch (m.role) {
    case chat_role::system:
      return {{"role", "system"}, {"content", m.content}};
    case chat_role::user:
      return {{"role", "user"}, {"content", m.content}};
    case chat_role::tool: {
      json out{{"role", "tool"}, {"content", m.content}};
      if (auto name = tool_name_of(call, m.tool_call_id); !name.empty())
        out["tool_name"] = name;
      out["tool_call_id"] = m.tool_call_id;
      return out;
    }
    case chat_role::assistant:
      break;
  }
  json out{{"role", "assistant"}, {"content", m.content}};
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (auto& c : m.tool_calls)
      calls.push_back(
        {{"id", c.call_id},
         {"function", {{"name", c.name}, {"arguments", arguments_object(c.args_json)}}}});
    out["tool_calls"] = std::move(calls);
  }
  return out;
}

} // namespace

wire_request ollama_request(const std::string& model, const model_call& call,
                            std::string_view api_key, bool stream) {
  json body{{"model", model}};
  json messages = json::array();
  for (auto& m : call.messages)
    messages.push_back(message_json(m, call));
  body["messages"] = std::move(messages);
  if (!call.tools.empty()) {
    json tools = json::array();
    for (auto& t : call.tools) {
      json function{{"name", t.name}};
      if (!t.description.empty())
        function["description"] = t.description;
      function["parameters"] = schema_object(t.parameters_json);
      tools.push_back({{"type", "function"}, {"function", std::move(function)}});
    }
    body["tools"] = std::move(tools);
  }
  body["stream"] = stream;

  wire_request req;
  req.path = "/api/chat";
  req.headers.emplace_back("content-type", "application/json");
  // A local server needs no key; ollama.com's API takes a bearer token.
  if (!api_key.empty())
    req.headers.emplace_back("authorization", "Bearer " + std::string(api_key));
  req.body = dump(body);
  return req;
}

} // namespace troupe::providers::detail
