#pragma once
// An endpoint is one server that answers model requests: declared once in a
// scenario's `[endpoints.NAME]` (or by the embedding API) and shared by every
// route that names it. docs/scenario-format.md documents each field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

enum class provider_kind : uint8_t { openai, anthropic, ollama, command };

[[nodiscard]] std::string_view to_string(provider_kind k);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, provider_kind& out);

struct endpoint_timeouts {
  uint64_t connect_ms = 10000;
  uint64_t first_byte_ms = 60000; ///< until the response headers
  uint64_t idle_ms = 30000;       ///< between two chunks of the body
  uint64_t total_ms = 600000;
};

struct endpoint_config {
  std::string name; ///< the X of [endpoints.X]
  provider_kind provider = provider_kind::openai;
  /// openai: up to and including /v1 ("http://127.0.0.1:8080/v1");
  /// anthropic: the host ("https://api.anthropic.com"); ollama: the host
  /// ("http://127.0.0.1:11434"). Unused by `command`.
  std::string base_url;
  std::vector<std::string> command; ///< `command` only: argv, never a shell
  std::string api_key_env;          ///< environment variable holding the key
  std::string api_key_secret;       ///< or: a name in the secrets file
  std::vector<std::string> models;
  bool stream = true;
  double input_usd_per_mtok = 0;  ///< price per million input tokens
  double output_usd_per_mtok = 0; ///< price per million output tokens
  uint32_t max_concurrency = 64;  ///< requests in flight; more wait in a queue
  double quality = 0;             ///< for `quality_first`; higher is better
  uint64_t context_window = 0;    ///< tokens; 0 when unknown
  uint32_t max_output_tokens = 4096; ///< anthropic's required max_tokens
  std::string anthropic_version = "2023-06-01";
  endpoint_timeouts timeouts;
  /// The circuit breaker: consecutive failures that open it, and its first
  /// cool-down (doubling on each reopening) before a half-open probe.
  uint32_t breaker_failures = 5;
  uint64_t breaker_cool_down_ms = 30000;
};

/// Cost of a reply in micro-USD (integers keep replay exact).
[[nodiscard]] uint64_t reply_cost_micro_usd(const endpoint_config& e, uint64_t input_tokens,
                                            uint64_t output_tokens);

} // namespace troupe
