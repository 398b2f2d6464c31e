#include "core/model_endpoint.hpp"

#include <cmath>

namespace troupe {

std::string_view to_string(provider_kind k) {
  switch (k) {
    case provider_kind::openai:
      return "openai";
    case provider_kind::anthropic:
      return "anthropic";
    case provider_kind::ollama:
      return "ollama";
    case provider_kind::command:
      return "command";
  }
  return "unknown";
}

bool from_string(std::string_view name, provider_kind& out) {
  for (auto k : {provider_kind::openai, provider_kind::anthropic, provider_kind::ollama,
                 provider_kind::command})
    if (to_string(k) == name) {
      out = k;
      return true;
    }
  return false;
}

uint64_t reply_cost_micro_usd(const endpoint_config& e, uint64_t input_tokens,
                              uint64_t output_tokens) {
  // usd_per_mtok * tokens / 1e6 USD = usd_per_mtok * tokens micro-USD.
  double micro = e.input_usd_per_mtok * static_cast<double>(input_tokens)
                 + e.output_usd_per_mtok * static_cast<double>(output_tokens);
  return static_cast<uint64_t>(std::llround(micro));
}

} // namespace troupe
