#pragma once
// What the HTTP server (net/http_server.hpp) refuses before its handler sees
// a request, decided from the parser's state alone: pure, no I/O.
//
// Beast's parser already refuses what does not parse (and HTTP versions
// other than 1.0 and 1.1, conflicting Content-Lengths, Content-Length with
// Transfer-Encoding). These add what RFC 9112 asks of a server on top:
// exactly one Host in HTTP/1.1, no Transfer-Encoding in HTTP/1.0, chunked
// as the last (and here only) coding, an Expect it can meet, a target that
// decodes.

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/request_target.hpp"
#include "net/http_server.hpp"

namespace troupe::net::detail {

/// A reply the server sends itself (as problem+json), then closes.
struct refusal {
  int status = 400;
  std::string_view slug;
  std::string_view title;
  std::string detail;
};

/// The refusal for an error of Beast's parser (431, 413 or 400).
[[nodiscard]] refusal refusal_for(const boost::system::error_code& ec,
                                  const http_server_options& opts);

/// What the header section of a request decides.
struct header_verdict {
  std::optional<refusal> refused;
  bool send_continue = false;            ///< `Expect: 100-continue` in HTTP/1.1
  std::optional<request_target> target;  ///< when not refused
};

using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// Precondition: `p.is_header_done()`.
[[nodiscard]] header_verdict check_header(const request_parser& p);

} // namespace troupe::net::detail
