#include "core/providers/wire.hpp"

#include "core/providers/detail/providers.hpp"

namespace troupe::providers {

namespace {

// `command` endpoints talk to a child process, not HTTP: asking for their
// wire format is a routing bug, reported as a reply rather than a crash.
class no_wire_format final : public reply_decoder {
public:
  void feed(std::string_view) override {}
  model_response finish() override {
    model_response out;
    out.failure = std::string(to_string(model_failure::bad_request));
    out.failure_detail = "command endpoints have no HTTP wire format";
    return out;
  }
};

} // namespace

reply_decoder::~reply_decoder() = default;

wire_request build_request(const endpoint_config& e, const std::string& model,
                           const model_call& call, std::string_view api_key, bool stream) {
  switch (e.provider) {
    case provider_kind::openai:
      return detail::openai_request(model, call, api_key, stream);
    case provider_kind::anthropic:
      return detail::anthropic_request(e, model, call, api_key, stream);
    case provider_kind::ollama:
      return detail::ollama_request(model, call, api_key, stream);
    case provider_kind::command:
      break;
  }
  return {};
}

std::unique_ptr<reply_decoder> make_decoder(provider_kind provider, bool stream,
                                            const model_call& call, text_delta_fn on_text_delta) {
  switch (provider) {
    case provider_kind::openai:
      return detail::openai_decoder(stream, call.turn, std::move(on_text_delta));
    case provider_kind::anthropic:
      return detail::anthropic_decoder(stream, call.turn, std::move(on_text_delta));
    case provider_kind::ollama:
      return detail::ollama_decoder(stream, call.turn, std::move(on_text_delta));
    case provider_kind::command:
      break;
  }
  return std::make_unique<no_wire_format>();
}

namespace detail {

json schema_object(const std::string& parameters_json) {
  auto schema = within_depth(parameters_json) ? json::parse(parameters_json, nullptr, false)
                                              : json(json::value_t::discarded);
  if (schema.is_discarded() || !schema.is_object())
    return json{{"type", "object"}, {"properties", json::object()}};
  return schema;
}

json arguments_object(const std::string& args_json) {
  auto args = within_depth(args_json) ? json::parse(args_json, nullptr, false)
                                      : json(json::value_t::discarded);
  if (args.is_discarded() || !args.is_object())
    return json::object();
  return args;
}

std::string tool_name_of(const model_call& call, const std::string& call_id) {
  for (auto& m : call.messages)
    if (m.role == chat_role::assistant)
      for (auto& c : m.tool_calls)
        if (c.call_id == call_id)
          return c.name;
  return {};
}

} // namespace detail

} // namespace troupe::providers
