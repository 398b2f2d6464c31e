#pragma once
// The provider interface every model backend implements: the scripted
// provider today, HTTP providers (OpenAI, Anthropic, Ollama) later. A
// provider turns one request into one reply; it never throws and reports
// failures in `model_response::failure`.

#include <cstdint>
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

struct model_response {
  std::string text;
  std::vector<tool_call_ref> tool_calls; ///< arguments verbatim, maybe malformed
  usage tokens;
  /// Empty on success; otherwise timeout, rate_limited, server_error or
  /// exhausted (a script ran out).
  std::string failure;
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
