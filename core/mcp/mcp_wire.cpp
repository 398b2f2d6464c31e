#include "core/mcp/mcp_wire.hpp"

#include <cctype>

#include "core/envelope.hpp"
#include "core/mcp/mcp_types.hpp"
#include "core/providers/detail/wire_json.hpp"

namespace troupe {

using nlohmann::json;

namespace {

json message(std::string_view method) {
  return json{{"jsonrpc", "2.0"}, {"method", method}};
}

json request(uint64_t id, std::string_view method) {
  json m = message(method);
  m["id"] = id;
  return m;
}

mcp_incoming malformed(std::string reason) {
  mcp_incoming m;
  m.kind = mcp_incoming_kind::malformed;
  m.reason = std::move(reason);
  return m;
}

const char* json_type(const json& v) {
  return providers::detail::type_name(v);
}

bool valid_id(const json& id) {
  return id.is_string() || id.is_number_integer() || id.is_number_unsigned();
}

// A response: exactly one of `result` and `error`, an error an object with
// an integer code. A missing `message` is tolerated (empty): the code alone
// still says what happened.
mcp_incoming classify_response(json& m) {
  auto id = m.find("id");
  if (id == m.end())
    return malformed("a response without an 'id'");
  auto result = m.find("result");
  auto error = m.find("error");
  if (result != m.end() && error != m.end())
    return malformed("a response with both 'result' and 'error'");
  mcp_incoming in;
  in.kind = mcp_incoming_kind::response;
  if (error != m.end()) {
    if (!id->is_null() && !valid_id(*id))
      return malformed(std::string{"a response whose 'id' is "} + json_type(*id));
    if (!error->is_object())
      return malformed(std::string{"an error response whose 'error' is "} + json_type(*error));
    auto code = error->find("code");
    if (code == error->end() || !code->is_number_integer())
      return malformed("an error response without an integer 'error.code'");
    mcp_rpc_error e;
    e.code = code->get<int64_t>();
    if (auto msg = error->find("message"); msg != error->end() && msg->is_string())
      e.message = msg->get<std::string>();
    if (auto data = error->find("data"); data != error->end())
      e.data = std::move(*data);
    in.error = std::move(e);
  } else {
    if (!valid_id(*id))
      return malformed(std::string{"a response whose 'id' is "} + json_type(*id));
    in.result = std::move(*result);
  }
  in.id = std::move(*id);
  return in;
}

// A request or a notification. MCP forbids a null id on requests; one is
// taken as malformed rather than as a notification, since the server
// expects an answer we could not address.
mcp_incoming classify_method(json& m, const json& method) {
  if (!method.is_string())
    return malformed(std::string{"a message whose 'method' is "} + json_type(method));
  mcp_incoming in;
  in.method = method.get<std::string>();
  if (auto params = m.find("params"); params != m.end())
    in.params = std::move(*params);
  auto id = m.find("id");
  if (id == m.end()) {
    in.kind = mcp_incoming_kind::notification;
    return in;
  }
  if (!valid_id(*id))
    return malformed("a request '" + escape_unprintable(in.method, 80) + "' whose 'id' is "
                     + json_type(*id));
  in.kind = mcp_incoming_kind::request;
  in.id = std::move(*id);
  return in;
}

// Summarize the peer's message for a warning: a few dozen bytes of it, one
// printable line.
std::string excerpt(std::string_view text) {
  return escape_unprintable(text, 120);
}

} // namespace

json mcp_initialize_request(uint64_t id, std::string_view client_version) {
  json m = request(id, "initialize");
  m["params"] = json{{"protocolVersion", mcp_protocol_versions().front()},
                     {"capabilities", json::object()},
                     {"clientInfo", json{{"name", "troupe"}, {"version", client_version}}}};
  return m;
}

json mcp_initialized_notification() {
  return message("notifications/initialized");
}

json mcp_tools_list_request(uint64_t id, const std::string& cursor) {
  json m = request(id, "tools/list");
  if (!cursor.empty())
    m["params"] = json{{"cursor", cursor}};
  return m;
}

json mcp_tools_call_request(uint64_t id, const std::string& name, json arguments) {
  json m = request(id, "tools/call");
  if (arguments.is_null())
    arguments = json::object();
  m["params"] = json{{"name", name}, {"arguments", std::move(arguments)}};
  return m;
}

json mcp_ping_request(uint64_t id) {
  return request(id, "ping");
}

json mcp_cancelled_notification(uint64_t request_id, std::string_view reason) {
  json m = message("notifications/cancelled");
  m["params"] = json{{"requestId", request_id}, {"reason", reason}};
  return m;
}

std::string mcp_serialize(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view to_string(mcp_incoming_kind k) {
  switch (k) {
    case mcp_incoming_kind::response:
      return "response";
    case mcp_incoming_kind::notification:
      return "notification";
    case mcp_incoming_kind::request:
      return "request";
    case mcp_incoming_kind::malformed:
      return "malformed";
    case mcp_incoming_kind::not_json:
      return "not_json";
  }
  return "?";
}

mcp_incoming classify_mcp_message(std::string_view text) {
  if (!providers::detail::within_depth(text, mcp_max_json_depth))
    return malformed("JSON nested deeper than " + std::to_string(mcp_max_json_depth));
  json parsed = json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded()) {
    mcp_incoming in;
    in.kind = mcp_incoming_kind::not_json;
    in.reason = "not JSON: " + excerpt(text);
    return in;
  }
  return classify_mcp_json(std::move(parsed));
}

mcp_incoming classify_mcp_json(json m) {
  if (m.is_array())
    return malformed("a JSON-RPC batch (MCP 2025-06-18 and later have none)");
  if (!m.is_object())
    return malformed(std::string{"JSON "} + json_type(m) + ", not a JSON-RPC message");
  if (auto v = m.find("jsonrpc"); v != m.end() && *v != "2.0")
    return malformed("'jsonrpc' is not \"2.0\"");
  if (auto method = m.find("method"); method != m.end())
    return classify_method(m, *method);
  if (m.contains("result") || m.contains("error"))
    return classify_response(m);
  return malformed("neither a request, a notification nor a response");
}

std::optional<uint64_t> mcp_our_id(const json& id) {
  if (id.is_number_unsigned())
    return id.get<uint64_t>();
  if (id.is_number_integer()) {
    auto v = id.get<int64_t>();
    if (v >= 0)
      return static_cast<uint64_t>(v);
    return std::nullopt;
  }
  if (id.is_string()) {
    const auto& s = id.get_ref<const std::string&>();
    if (s.empty() || s.size() > 19)
      return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  }
  return std::nullopt;
}

json mcp_answer_server_request(const mcp_incoming& request) {
  json m{{"jsonrpc", "2.0"}, {"id", request.id}};
  if (request.method == "ping") {
    m["result"] = json::object();
    return m;
  }
  m["error"] = json{{"code", mcp_method_not_found},
                    {"message", "Method not found: " + request.method
                                  + " (troupe declares no client capabilities)"}};
  return m;
}

} // namespace troupe
