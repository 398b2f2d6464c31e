#pragma once
// Which models an endpoint serves, from its own listing: `GET {base_url}/models`
// (OpenAI-compatible servers: {"data":[{"id":...}]}), and for Ollama
// `GET /api/tags` (every model on disk) and `GET /api/ps` (the ones loaded in
// memory: warm; the others are cold and take a load before the first token).
// Pure parsers of those bodies; `troupe models` does the requests.

#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "core/model_endpoint.hpp"

namespace troupe::providers {

/// The path to list models on an endpoint of `provider`, appended to its
/// base_url; empty when the provider has no listing (anthropic, command).
[[nodiscard]] std::string models_path(provider_kind provider);

/// Model names from a listing body: OpenAI's `data[].id`, or Ollama's
/// `models[].name` (/api/tags and /api/ps alike). Error naming what is wrong.
[[nodiscard]] caf::expected<std::vector<std::string>> parse_model_list(provider_kind provider,
                                                                       std::string_view body);

} // namespace troupe::providers
