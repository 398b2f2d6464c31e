#pragma once
// The values that cross troupe's HTTP client (net/http_client.hpp): what a
// request asks for, and how it ended. Plain data, no libcurl types, so the
// providers above parse and classify replies without seeing libcurl.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::net {

/// Header name/value pairs in arrival order. Response header names are
/// lower-cased (HTTP names are case-insensitive; one spelling makes lookups
/// plain string compares); values are as sent, without surrounding blanks.
using http_headers = std::vector<std::pair<std::string, std::string>>;

/// The first value of header `name` (give it lower-cased), or nullptr.
[[nodiscard]] const std::string* find_header(const http_headers& headers,
                                             std::string_view name);

/// Limits of one request, in milliseconds; 0 means no limit of ours (libcurl
/// still gives up connecting after its own 300 s). Clocks run from the
/// moment the transfer starts, not while it waits in its pool's queue.
struct http_timeouts {
  uint64_t connect_ms = 10000;    ///< TCP (and TLS) connection established
  uint64_t first_byte_ms = 60000; ///< until the response headers are complete
  uint64_t idle_ms = 30000;       ///< between the headers and the first body
                                  ///< chunk, and between two body chunks
  uint64_t total_ms = 600000;     ///< the whole transfer
};

struct http_request {
  std::string method = "GET"; ///< GET, POST, PUT, DELETE, HEAD, PATCH, ...
  std::string url;            ///< http:// or https:// (TLS verified)
  http_headers headers;       ///< sent as given; no Expect: 100-continue
  std::string body;           ///< sent with Content-Length when not empty
  http_timeouts timeouts;
  /// Requests with the same pool key (the endpoint's name) share a limit of
  /// `max_concurrency` transfers in flight; the others wait in FIFO order.
  /// The limit of a pool is the one its latest submitted request carries.
  std::string pool;
  uint32_t max_concurrency = 64; ///< 0 is read as 1
};

/// How a transfer failed before a whole response arrived. An HTTP error
/// status (429, 500) is not a transport error: it is `http_outcome::status`.
enum class transport_error : uint8_t {
  none,
  timeout,    ///< which one: `http_outcome::timeout`
  connection, ///< which kind: `http_outcome::connection`
  canceled,   ///< cancel(), a callback that asked to abort, or shutdown
  protocol,   ///< the peer does not speak HTTP properly (bad status line,
              ///< broken chunked encoding, oversized headers)
  invalid,    ///< the request cannot be sent: malformed URL, unknown
              ///< scheme, a header with a line break
  internal,   ///< libcurl or the client ran out of something (memory, fds)
};

enum class timeout_kind : uint8_t { none, connect, first_byte, idle, total };

enum class connection_error : uint8_t {
  none,
  refused, ///< nobody listens there (or a firewall said no)
  reset,   ///< the peer reset the connection (RST), or sending failed
  closed,  ///< the peer closed before the response was complete
  dns,     ///< the host name does not resolve
  tls,     ///< handshake failed, certificate not trusted, ...
  other,   ///< unreachable network, and the like
};

[[nodiscard]] std::string_view to_string(transport_error e);
[[nodiscard]] std::string_view to_string(timeout_kind k);
[[nodiscard]] std::string_view to_string(connection_error c);

/// How a request ended: delivered once through `on_done`.
struct http_outcome {
  transport_error error = transport_error::none;
  timeout_kind timeout = timeout_kind::none;           ///< when `timeout`
  connection_error connection = connection_error::none; ///< when `connection`
  /// For a person: what failed, in libcurl's words or ours. Empty on success.
  std::string message;
  /// The response's status; 0 when no response headers arrived.
  int status = 0;
  http_headers headers; ///< the response's, names lower-cased
  uint64_t body_bytes = 0;
  /// Timing, in microseconds from the `submit` call; 0 for what did not
  /// happen (no headers, no body byte).
  uint64_t queued_us = 0;     ///< until the transfer started (pool queue)
  uint64_t headers_us = 0;    ///< until the response headers were complete
  uint64_t first_byte_us = 0; ///< until the first body byte
  uint64_t total_us = 0;      ///< until the end

  /// A whole response arrived (whatever its status).
  [[nodiscard]] bool ok() const { return error == transport_error::none; }
};

} // namespace troupe::net
