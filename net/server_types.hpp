#pragma once
// What the HTTP server (net/http_server.hpp) hands its handler, and what the
// handler answers: plain data, no Boost types.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_types.hpp"

namespace troupe::net {

/// Header name/value pairs in order (the client's `http_headers`).
using header_list = http_headers;

struct server_request {
  std::string method; ///< as sent: GET, POST, ... (case-sensitive, RFC 9110)
  std::string target; ///< as sent, with the query
  std::string path;   ///< the target without the query, percent-decoded
  /// The query's `name=value` pairs in order, decoded (`+` is a space).
  std::vector<std::pair<std::string, std::string>> query;
  header_list headers; ///< names lower-cased, values trimmed
  std::string body;    ///< whole (the server reads it before the handler runs)
  std::string remote;  ///< the peer: `ip:port`, `[ip6]:port`
  int version = 11;    ///< 10 or 11

  /// The first value of header `lower_name` (give it lower-cased).
  [[nodiscard]] std::optional<std::string> header(std::string_view lower_name) const;
  /// The first value of query parameter `name`.
  [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
};

struct server_response {
  int status = 200; ///< 200..599; anything else is answered as 500
  /// Sent as given, after the server's own. Content-Length,
  /// Transfer-Encoding and Date are the server's and dropped here;
  /// `Connection: close` closes the connection after the reply. A header
  /// whose name or value holds CR, LF or NUL is dropped (response splitting).
  header_list headers;
  std::string content_type = "application/json"; ///< empty: no Content-Type
  std::string body; ///< not sent for HEAD, 204 and 304 (Content-Length still is for HEAD)
};

} // namespace troupe::net
