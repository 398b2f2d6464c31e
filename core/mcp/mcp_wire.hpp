#pragma once
// The MCP client's JSON-RPC 2.0 messages: the ones troupe sends, and the
// classification of one message a server sent. Pure: no I/O, no threads;
// the session (mcp/session.hpp) frames them (a line on stdio, a POST body
// or an SSE event over HTTP).
//
// What troupe sends:
//   initialize                  offers mcp_protocol_versions().front(), no
//                               client capabilities (no roots, sampling or
//                               elicitation: the server must not ask)
//   notifications/initialized   once `initialize` was accepted
//   tools/list                  with the previous page's `nextCursor`
//   tools/call                  {name, arguments}
//   ping                        liveness
//   notifications/cancelled     {requestId, reason} for a call troupe gave up
//   answers to server requests  `ping` → {}; any other method → -32601
//
// Ids troupe assigns are unsigned integers from 1. JSON-RPC batches (arrays)
// were removed from MCP in 2025-06-18: an array is classified as malformed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace troupe {

// -- what troupe sends ---------------------------------------------------------

[[nodiscard]] nlohmann::json mcp_initialize_request(uint64_t id, std::string_view client_version);
[[nodiscard]] nlohmann::json mcp_initialized_notification();
/// `cursor` empty: the first page.
[[nodiscard]] nlohmann::json mcp_tools_list_request(uint64_t id, const std::string& cursor);
/// `arguments` null is sent as `{}` (MCP wants an object).
[[nodiscard]] nlohmann::json mcp_tools_call_request(uint64_t id, const std::string& name,
                                                    nlohmann::json arguments);
[[nodiscard]] nlohmann::json mcp_ping_request(uint64_t id);
[[nodiscard]] nlohmann::json mcp_cancelled_notification(uint64_t request_id,
                                                        std::string_view reason);

/// One message as it goes on the wire: compact JSON, no line break (string
/// contents are escaped), invalid UTF-8 replaced rather than thrown.
[[nodiscard]] std::string mcp_serialize(const nlohmann::json& message);

// -- what a server sends -------------------------------------------------------

enum class mcp_incoming_kind : uint8_t {
  response,     ///< `id` with `result` or `error`: the answer to one of ours
  notification, ///< `method` without `id`
  request,      ///< `method` with `id`: the server asks us something
  malformed,    ///< JSON, but not a JSON-RPC message we can use
  not_json,     ///< not JSON at all (a stray log line on stdout)
};

[[nodiscard]] std::string_view to_string(mcp_incoming_kind k);

/// A JSON-RPC error object.
struct mcp_rpc_error {
  int64_t code = 0;
  std::string message;
  nlohmann::json data; ///< null when absent
};

/// One classified message. Which fields are set depends on `kind`.
struct mcp_incoming {
  mcp_incoming_kind kind = mcp_incoming_kind::malformed;
  /// response, request: the id as sent (a number or a string; null in an
  /// error response to a message the server could not read).
  nlohmann::json id;
  std::string method;    ///< notification, request
  nlohmann::json params; ///< notification, request: null when absent
  nlohmann::json result; ///< response without `error`
  std::optional<mcp_rpc_error> error; ///< response with `error`
  std::string reason;    ///< malformed, not_json: why, for a warning
};

/// Deepest nesting of arrays and objects accepted in one message: parsing
/// is iterative but dumping and destroying a value recurse, so a hostile
/// server must not be able to overflow the stack.
constexpr int mcp_max_json_depth = 128;

/// Parses and classifies one message (a stdio line, an SSE event's data, an
/// HTTP body). Never throws.
[[nodiscard]] mcp_incoming classify_mcp_message(std::string_view text);
/// Classifies an already parsed message.
[[nodiscard]] mcp_incoming classify_mcp_json(nlohmann::json message);

/// The id of a response as one of ours: a non-negative integer (or a string
/// of decimal digits, which some servers echo back); nullopt otherwise.
[[nodiscard]] std::optional<uint64_t> mcp_our_id(const nlohmann::json& id);

/// The answer to a server request (`kind == request`): an empty result for
/// `ping`, a -32601 "method not found" error for anything else (`roots/list`,
/// `sampling/createMessage`, `elicitation/create`, ...: troupe declares no
/// client capabilities).
[[nodiscard]] nlohmann::json mcp_answer_server_request(const mcp_incoming& request);

/// JSON-RPC's "method not found".
constexpr int64_t mcp_method_not_found = -32601;

} // namespace troupe
