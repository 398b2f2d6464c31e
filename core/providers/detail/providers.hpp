#pragma once
// The per-provider halves behind build_request and make_decoder, and the
// request-side helpers they share.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/providers/detail/wire_json.hpp"
#include "core/providers/wire.hpp"

namespace troupe::providers::detail {

[[nodiscard]] wire_request openai_request(const std::string& model, const model_call& call,
                                          std::string_view api_key, bool stream);
[[nodiscard]] std::unique_ptr<reply_decoder> openai_decoder(bool stream, uint32_t turn,
                                                            text_delta_fn on_text);

[[nodiscard]] wire_request anthropic_request(const endpoint_config& e, const std::string& model,
                                             const model_call& call, std::string_view api_key,
                                             bool stream);
[[nodiscard]] std::unique_ptr<reply_decoder> anthropic_decoder(bool stream, uint32_t turn,
                                                               text_delta_fn on_text);

[[nodiscard]] wire_request ollama_request(const std::string& model, const model_call& call,
                                          std::string_view api_key, bool stream);
[[nodiscard]] std::unique_ptr<reply_decoder> ollama_decoder(bool stream, uint32_t turn,
                                                            text_delta_fn on_text);

/// A tool's JSON Schema as an object; an empty or unparsable one (the tool
/// registry validates schemas, so only a bug gets here) becomes the schema
/// of "no parameters".
[[nodiscard]] json schema_object(const std::string& parameters_json);

/// A tool call's arguments as the object Anthropic and Ollama require;
/// `{}` when `args_json` is not a JSON object (what the model wrote was
/// malformed; the run already showed it an error result for that call).
[[nodiscard]] json arguments_object(const std::string& args_json);

/// The name of the tool call `call_id` among the assistant messages of
/// `call`, or "" (Ollama's tool messages name their tool, not the call).
[[nodiscard]] std::string tool_name_of(const model_call& call, const std::string& call_id);

} // namespace troupe::providers::detail
