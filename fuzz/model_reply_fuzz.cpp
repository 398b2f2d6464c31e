// The model reply decoders (OpenAI, Anthropic and Ollama; streamed and
// whole) on hostile server bytes: a reply or a classified failure, never a
// crash or a throw, and the same result however the bytes are split.
// Input: byte 0 picks the provider and whether it streams, byte 1 where the
// rest is split in two feeds; the rest is the body.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/model_provider.hpp"
#include "core/providers/wire.hpp"
#include "fuzz/check.hpp"

namespace {

troupe::model_response decode(troupe::provider_kind p, bool stream, std::string_view body,
                              size_t split) {
  troupe::model_call call;
  call.turn = 3;
  auto d = troupe::providers::make_decoder(p, stream, call);
  d->feed(body.substr(0, split));
  d->feed(body.substr(split));
  return d->finish();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  using troupe::provider_kind;
  constexpr provider_kind providers[] = {provider_kind::openai, provider_kind::anthropic,
                                         provider_kind::ollama};
  auto provider = providers[data[0] % 3];
  bool stream = (data[0] / 3) % 2 == 0;
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t split = body.empty() ? 0 : data[1] % (body.size() + 1);
  auto whole = decode(provider, stream, body, body.size());
  auto parts = decode(provider, stream, body, split);
  troupe::model_failure kind;
  TROUPE_FUZZ_CHECK(whole.failure.empty() || from_string(whole.failure, kind),
                    "a failure is a model_failure name");
  TROUPE_FUZZ_CHECK(whole.failure.empty() || !whole.failure_detail.empty(),
                    "a failure says why");
  TROUPE_FUZZ_CHECK(whole.failure == parts.failure && whole.text == parts.text
                      && whole.tool_calls.size() == parts.tool_calls.size()
                      && whole.tokens.input == parts.tokens.input
                      && whole.tokens.output == parts.tokens.output,
                    "the split does not change the reply");
  for (size_t i = 0; i < whole.tool_calls.size(); ++i)
    TROUPE_FUZZ_CHECK(whole.tool_calls[i].call_id == parts.tool_calls[i].call_id
                        && whole.tool_calls[i].args_json == parts.tool_calls[i].args_json,
                      "the split does not change the calls");
  return 0;
}
