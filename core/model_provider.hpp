#pragma once
// The provider interface every model backend implements: the scripted
// provider today, HTTP providers (OpenAI, Anthropic, Ollama) later. A
// provider turns one request into one reply; it never throws and reports
// failures in `model_response::failure`.

#include <cstdint>
#include <string_view>
#include <string>
#include <vector>

#include "core/chat.hpp"
#include "schemas/event.hpp"

namespace troupe {

struct model_call {
  std::string run_id;
  std::string agent;
  std::string model;
  uint32_t turn = 0;
  /// How many model requests this run made before this one. Deterministic
  /// providers (script) answer by position, which makes resume and replay
  /// give the same replies.
  uint32_t request_index = 0;
  std::vector<chat_message> messages;
  std::vector<tool_spec> tools;
};

/// Why a model request failed; the journal stores the snake_case name in
/// `model_reply::failure` (core/model_failure.cpp has the table).
enum class model_failure : uint8_t {
  none,
  rate_limited,    ///< 429; `retry_after_ms` when the server said
  overloaded,      ///< 529, 503
  server_error,    ///< any other 5xx
  timeout,         ///< connect, first byte, idle between chunks or total
  connection,      ///< refused, reset, DNS, TLS: no HTTP answer at all
  bad_request,     ///< any other 4xx; not retried
  quota_exhausted, ///< insufficient_quota, spend limits; not retried
  malformed,       ///< a body or stream that does not parse
  canceled,        ///< the run was canceled while the request was in flight
  exhausted,       ///< the script ran out of replies
};

[[nodiscard]] std::string_view to_string(model_failure f);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, model_failure& out);
/// Whether another attempt (same or another endpoint) may succeed.
[[nodiscard]] bool retryable(model_failure f);

struct model_response {
  std::string text;
  std::vector<tool_call_ref> tool_calls; ///< arguments verbatim, maybe malformed
  usage tokens;
  /// Empty on success; otherwise the name of a model_failure.
  std::string failure;
  /// For people: what the server or the transport said, keys redacted.
  std::string failure_detail;
  /// How long the server asked us to wait (Retry-After, retry-after-ms); 0 if
  /// it did not say.
  uint64_t retry_after_ms = 0;
  /// As the provider spelled it: stop, tool_calls, length, end_turn, tool_use...
  std::string finish_reason;
  /// Who answered and how fast; filled by whoever sent the request.
  std::string endpoint;
  std::string model;
  uint64_t latency_us = 0;
  uint64_t first_token_us = 0; ///< streaming only: until the first delta
  uint64_t cost_micro_usd = 0; ///< from the endpoint's prices
  /// A routed model's attempts at this request, in order (the run journals
  /// them before the reply); empty for providers that are not routed.
  std::vector<route_attempt> attempts;
};

class model_provider {
public:
  virtual ~model_provider() = default;

  /// Answers one request. May block (HTTP providers): the route actor runs
  /// blocking providers on their own thread.
  [[nodiscard]] virtual model_response complete(const model_call& call) = 0;

  /// Whether `complete` blocks the calling thread.
  [[nodiscard]] virtual bool blocking() const { return false; }
};

} // namespace troupe
