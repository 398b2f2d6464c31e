#pragma once
// MCP over Streamable HTTP, through troupe's HTTP client. Internal to mcp/.
//
// Every message troupe sends is one POST to the endpoint with
// `Content-Type: application/json` and `Accept: application/json,
// text/event-stream`; after `initialize` also `MCP-Protocol-Version`, and
// `Mcp-Session-Id` once the server assigned one (taken from the first
// reply that carries it). A reply is one JSON message, or an SSE stream
// (core/providers/sse.hpp framing) whose events carry messages: the
// server's notifications and requests may come before the response. A
// notification or a response of ours is answered 202 Accepted. Once the
// session is initialized a GET opens the server's own event stream, where
// `notifications/tools/list_changed` arrives; a server without one answers
// 405, and a stream that ends is not reopened.
//
// Failures. A POST that fails (no connection, an HTTP error status, a
// stream that ends before the response, an empty 202 to a request) fails
// the request it carried, and only that one. HTTP 404 to a request that
// carried our session id means the session expired: the whole session is
// gone (so does a 400 whose JSON-RPC error names the session, which is how
// some servers say it). Resuming a broken SSE stream (Last-Event-ID) is not supported: the
// request fails and may be retried. `abandon` closes a request's stream
// after the core gave up on it.
//
// Lifetime. Callbacks run on the client's I/O thread and hold a pointer to
// this transport: `shutdown` cancels every transfer and waits until the
// last callback has run, then DELETEs the session (not awaited). The
// client must outlive the transport.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mcp/detail/transport.hpp"
#include "mcp/session.hpp"
#include "net/http_client.hpp"

namespace troupe::mcp::detail {

class http_transport final : public transport {
public:
  http_transport(std::string url, net::http_headers extra, net::http_client& client,
                 transport_sink& sink, const session_options& opts);
  ~http_transport() override;

  void send(std::string message, std::optional<uint64_t> request_id) override;
  void abandon(uint64_t id) override;
  void initialized(const std::string& version) override;
  void shutdown() override;

private:
  struct exchange;
  struct transfer {
    net::request_handle handle; // unset until `submit` returned
    bool cancel = false;        // cancel as soon as the handle is known
  };

  net::http_request base_request(const char* method, bool stream) const;
  void start(std::shared_ptr<exchange> x, net::http_request req);
  net::http_action on_headers(exchange& x, int status, const net::http_headers& headers);
  net::http_action on_data(exchange& x, std::string_view chunk);
  void on_done(exchange& x, const net::http_outcome& outcome);
  void finish_reply(exchange& x, const net::http_outcome& outcome);
  void deliver(std::string_view data);
  void forget(const exchange& x);

  const std::string url_;
  const net::http_headers extra_;
  net::http_client& client_;
  transport_sink& sink_;
  const std::string prefix_;
  const std::string pool_;
  const size_t max_message_;

  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::string session_id_;
  std::string protocol_version_;
  std::map<uint64_t, transfer> transfers_;  // by exchange serial
  std::map<uint64_t, uint64_t> by_request_; // request id → exchange serial
  uint64_t next_serial_ = 1;
  bool shut_ = false;
};

} // namespace troupe::mcp::detail
