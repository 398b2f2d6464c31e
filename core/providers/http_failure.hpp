#pragma once
// Classifying a failed model request: an HTTP status with its headers and
// body, or an error object a server sent in a 2xx body or mid-stream, becomes
// a `model_failure` with a detail for people. Pure: the current time (for a
// Retry-After date) is an argument.
//
//   429                  rate_limited, with retry-after-ms / Retry-After;
//                        but quota_exhausted when the body says the quota or
//                        credit is used up (OpenAI's insufficient_quota comes
//                        as a 429 and must not be retried), overloaded when
//                        it says overloaded_error (Anthropic)
//   503, 529             overloaded (with the server's wait, if any)
//   other 5xx            server_error
//   408                  timeout (the server gave up waiting for us)
//   402                  quota_exhausted (payment required: Anthropic's
//                        billing_error, OpenRouter's credits)
//   other 4xx            bad_request, or quota_exhausted as for 429
//                        (Anthropic's "credit balance is too low" and spend
//                        limits come as 400 invalid_request_error)
//   anything else        bad_request (a redirect means a wrong base_url)

#include <chrono>
#include <string>
#include <string_view>

#include "core/model_provider.hpp"
#include "core/providers/wire.hpp"

namespace troupe::providers {

/// failure_detail is cut to this many bytes.
constexpr size_t max_detail_bytes = 500;

/// What an error object says, in any of the shapes servers use:
///   {"error": {"message", "type", "code", "param"}}   OpenAI, llama.cpp, LiteLLM
///   {"type": "error", "error": {"type", "message"}}    Anthropic
///   {"error": "text"}                                   Ollama
///   {"object": "error", "message", "type", "code"}     vLLM
struct error_info {
  std::string type;
  std::string code; ///< a string code, or a numeric one written out
  std::string message;
};

/// False when `body` is not JSON or holds no error object.
[[nodiscard]] bool parse_error_body(std::string_view body, error_info& out);

/// Whether the error says the account's quota, credit or spend limit is
/// used up: type or code insufficient_quota, billing_hard_limit_reached,
/// billing_not_active or billing_error, or the documented messages ("You
/// exceeded your current quota", "Your credit balance is too low", "You have
/// reached your specified API usage limits").
[[nodiscard]] bool is_quota_error(const error_info& e);

/// The failure an error object stands for. `status` is the HTTP status, or
/// 0 for an error met inside a 2xx body or stream: then the type decides
/// (rate limits, overload, invalid requests; a numeric code as a status),
/// and an unknown error is a server_error.
[[nodiscard]] model_failure classify_error(const error_info& e, int status);

/// The reply for a request answered with a non-2xx `status`. `headers`
/// names are lower case (compared without case anyway). `api_key` is
/// replaced by "[redacted]" wherever the detail would show it, as is
/// anything shaped like an OpenAI or Anthropic key ("sk-..."). The detail
/// names the provider, the status, the error type and the server's message
/// (or the title of an HTML page), cut to max_detail_bytes.
[[nodiscard]] model_response classify_http_failure(provider_kind provider, int status,
                                                   const header_list& headers,
                                                   std::string_view body, std::string_view api_key,
                                                   std::chrono::system_clock::time_point now);

/// `text` with `api_key` and "sk-..." keys replaced by "[redacted]", bytes
/// outside printable ASCII escaped (one line of valid UTF-8), cut to
/// `max_bytes`. For any detail that may show what a server said.
[[nodiscard]] std::string redact_detail(std::string_view text, std::string_view api_key,
                                        size_t max_bytes = max_detail_bytes);

} // namespace troupe::providers
