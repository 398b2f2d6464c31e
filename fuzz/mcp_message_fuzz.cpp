// What an MCP server sends (a stdout line, an SSE event, an HTTP body) on
// hostile bytes: the classifier and the readers of initialize, tools/list and
// tools/call results return a value or an error, never a crash or a throw;
// a classified message is of exactly one kind, and serializing what troupe
// would answer stays one line.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/mcp/mcp_replies.hpp"
#include "core/mcp/mcp_wire.hpp"
#include "fuzz/check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto in = troupe::classify_mcp_message(text);
  using kind = troupe::mcp_incoming_kind;
  switch (in.kind) {
    case kind::response: {
      (void) troupe::mcp_our_id(in.id);
      auto call = troupe::parse_call_result(in);
      TROUPE_FUZZ_CHECK(call.answered, "a response to tools/call is an answer");
      if (!in.error) {
        (void) troupe::negotiate_version(in.result);
        (void) troupe::parse_tools_page(in.result);
      }
      break;
    }
    case kind::request: {
      auto answer = troupe::mcp_serialize(troupe::mcp_answer_server_request(in));
      TROUPE_FUZZ_CHECK(answer.find('\n') == std::string::npos, "an answer is one line");
      break;
    }
    default:
      break;
  }
  return 0;
}
