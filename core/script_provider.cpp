#include "core/script_provider.hpp"

namespace troupe {

namespace {

// Scripts without `usage` still cost tokens, so token limits work on them:
// about four bytes per token, as common tokenizers average for English.
uint64_t estimate_tokens(size_t bytes) {
  return (bytes + 3) / 4;
}

uint64_t conversation_bytes(const model_call& call) {
  size_t n = 0;
  for (auto& m : call.messages) {
    n += m.content.size();
    for (auto& c : m.tool_calls)
      n += c.name.size() + c.args_json.size();
  }
  return n;
}

} // namespace

script_provider::script_provider(
  std::map<std::string, std::vector<scripted_reply>> scripts)
  : scripts_(std::move(scripts)) {}

model_response script_provider::complete(const model_call& call) {
  model_response out;
  auto i = scripts_.find(call.agent);
  if (i == scripts_.end() || call.request_index >= i->second.size()) {
    out.failure = "exhausted";
    return out;
  }
  auto& reply = i->second[call.request_index];
  if (reply.failure != scripted_failure::none) {
    out.failure = std::string(to_string(reply.failure));
    return out;
  }
  out.text = reply.text;
  size_t reply_bytes = reply.text.size();
  for (size_t k = 0; k < reply.tool_calls.size(); ++k) {
    auto& c = reply.tool_calls[k];
    auto id = c.id.empty() ? "t" + std::to_string(call.turn) + "c"
                               + std::to_string(k + 1)
                           : c.id;
    out.tool_calls.push_back({std::move(id), c.name, c.args_json});
    reply_bytes += c.name.size() + c.args_json.size();
  }
  out.tokens.input = reply.input_tokens != 0
                       ? reply.input_tokens
                       : estimate_tokens(conversation_bytes(call));
  out.tokens.output = reply.output_tokens != 0 ? reply.output_tokens
                                               : estimate_tokens(reply_bytes);
  return out;
}

} // namespace troupe
