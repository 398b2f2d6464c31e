#pragma once
// The wire formats of the HTTP model providers: how a `model_call` becomes a
// request body for OpenAI Chat Completions, Anthropic Messages or Ollama's
// native /api/chat, and how the bytes of the answer become a
// `model_response`. Pure: no I/O, no threads, no clocks. The gateway sends
// the request with its HTTP client and feeds the body bytes it receives to a
// `reply_decoder`; a non-2xx status goes to `classify_http_failure`
// (core/providers/http_failure.hpp) instead.
//
// Tool call ids come from the server (OpenAI, Anthropic, newer Ollama). Where
// a server gives none (older Ollama, some OpenAI-compatible servers), the
// decoder assigns "t{turn}c{k}" (k counts the reply's calls from 1), as the
// script provider does: a function of the request alone, so a resumed or
// replayed run sees the same ids.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model_endpoint.hpp"
#include "core/model_provider.hpp"

namespace troupe::providers {

/// One header, name in lower case.
using header = std::pair<std::string, std::string>;
using header_list = std::vector<header>;

/// A single SSE or NDJSON line longer than this makes the reply malformed:
/// framing memory stays bounded whatever the server sends.
constexpr size_t max_line_bytes = size_t{8} << 20;
/// A non-streamed body longer than this is malformed.
constexpr size_t max_body_bytes = size_t{32} << 20;
/// Text plus tool arguments of one reply beyond this are malformed.
constexpr size_t max_reply_bytes = size_t{16} << 20;

struct wire_request {
  /// Appended by the caller to `endpoint_config::base_url`: openai
  /// "/chat/completions" (base_url ends in /v1), anthropic "/v1/messages",
  /// ollama "/api/chat".
  std::string path;
  /// Content type and authentication. Holds the api key: never log them.
  header_list headers;
  std::string body; ///< JSON
};

/// The request for `call`, addressed to `model` on endpoint `e` (its
/// `provider` picks the format). `api_key` may be empty (local servers): no
/// authentication header is sent then. `stream` asks for SSE (openai,
/// anthropic) or NDJSON (ollama).
///
/// Conversation mapping: system messages become OpenAI/Ollama system
/// messages and Anthropic's top-level `system` (several joined by a blank
/// line); assistant tool calls and tool results keep their call ids.
/// Anthropic and Ollama want a tool call's arguments as a JSON object: an
/// assistant call whose `args_json` is not an object (the model wrote
/// malformed arguments; the run already answered it with an error result)
/// is sent with `{}` so the request stays valid. OpenAI sends arguments as
/// the string they were. `command` endpoints have no wire format: the
/// request comes back empty.
[[nodiscard]] wire_request build_request(const endpoint_config& e, const std::string& model,
                                         const model_call& call, std::string_view api_key,
                                         bool stream);

/// Turns the body of a 2xx answer into a reply, incrementally.
///
/// Contract: `feed` any number of times with the body bytes as they arrive,
/// split anywhere, then `finish` once when the body ended. Neither throws.
/// `finish` fills text, tool_calls (arguments as the model wrote them:
/// OpenAI's string; Anthropic's and Ollama's input object dumped compactly,
/// key order kept; no arguments at all become "{}"), tokens and
/// finish_reason (as the provider spelled it). On failure it sets
/// `failure`: "malformed" with a `failure_detail` naming the format, the
/// line and what was wrong (a body that does not parse, a missing or
/// mistyped field, a stream without its terminator, a line or reply over the
/// limits above), or the classified failure of an error object in the body or
/// stream. The endpoint, model, latency and cost fields are the caller's.
class reply_decoder {
public:
  virtual ~reply_decoder();
  virtual void feed(std::string_view bytes) = 0;
  [[nodiscard]] virtual model_response finish() = 0;
};

/// Called with each piece of streamed text as it is decoded (for a live
/// display and the time to the first token). Called once with an empty piece
/// when the first thing the model streams is not text (a tool call), so the
/// first token can be timed either way. A non-streaming decoder calls it
/// once from `finish` with the whole text, if any.
using text_delta_fn = std::function<void(std::string_view)>;

/// A decoder for `provider`'s reply to `call` (whose turn names the ids it
/// assigns). `stream` must match the request. `command` endpoints have no
/// wire format: their decoder finishes with bad_request.
[[nodiscard]] std::unique_ptr<reply_decoder> make_decoder(provider_kind provider, bool stream,
                                                          const model_call& call,
                                                          text_delta_fn on_text_delta = {});

} // namespace troupe::providers
