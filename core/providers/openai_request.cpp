// OpenAI Chat Completions requests (POST {base_url}/chat/completions), the
// format vLLM, llama.cpp's server, Ollama's /v1, LM Studio, LiteLLM and
// OpenRouter speak too:
//
//   {"model": M,
//    "messages": [{"role": "system", "content": S},
//                 {"role": "user", "content": U},
//                 {"role": "assistant", "content": T | null,
//                  "tool_calls": [{"id", "type": "function",
//                                  "function": {"name", "arguments": "<json text>"}}]},
//                 {"role": "tool", "tool_call_id": ID, "content": R}],
//    "tools": [{"type": "function", "function": {"name", "description", "parameters"}}],
//    "tool_choice": "auto", "parallel_tool_calls": true,
//    "stream": true, "stream_options": {"include_usage": true}}

#include "core/providers/detail/providers.hpp"

namespace troupe::providers::detail {

namespace {

json message_json(const chat_message& m) {
  switch (m.role) {
    case chat_role::system:
      return {{"role", "system"}, {"content", m.content}};
    case chat_role::user:
      return {{"role", "user"}, {"content", m.content}};
    case chat_role::tool:
      return {{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.content}};
    case chat_role::assistant:
      break;
  }
  json out{{"role", "assistant"}};
  // The API wants content null, not "", beside tool calls.
  out["content"] = m.content.empty() && !m.tool_calls.empty() ? json(nullptr) : json(m.content);
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (auto& c : m.tool_calls)
      calls.push_back({{"id", c.call_id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.args_json}}}});
    out["tool_calls"] = std::move(calls);
  }
  return out;
}

json tool_json(const tool_spec& t) {
  json function{{"name", t.name}};
  if (!t.description.empty())
    function["description"] = t.description;
  function["parameters"] = schema_object(t.parameters_json);
  return {{"type", "function"}, {"function", std::move(function)}};
}

} // namespace

wire_request openai_request(const std::string& model, const model_call& call,
                            std::string_view api_key, bool stream) {
  json body{{"model", model}};
  json messages = json::array();
  for (auto& m : call.messages)
    messages.push_back(message_json(m));
  body["messages"] = std::move(messages);
  if (!call.tools.empty()) {
    json tools = json::array();
    for (auto& t : call.tools)
      tools.push_back(tool_json(t));
    body["tools"] = std::move(tools);
    body["tool_choice"] = "auto";
    body["parallel_tool_calls"] = true;
  }
  body["stream"] = stream;
  if (stream) // without it the stream carries no token counts
    body["stream_options"] = {{"include_usage", true}};

  wire_request req;
  req.path = "/chat/completions";
  req.headers.emplace_back("content-type", "application/json");
  if (!api_key.empty())
    req.headers.emplace_back("authorization", "Bearer " + std::string(api_key));
  req.body = dump(body);
  return req;
}

} // namespace troupe::providers::detail
