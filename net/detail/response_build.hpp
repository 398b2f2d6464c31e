#pragma once
// Turns a handler's `server_response` (or an SSE stream's start) into the
// Beast message the connection writes, with the server's own headers:
// Content-Length, Date, Connection. Pure but for the clock (Date).

#include <string_view>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/server_types.hpp"

namespace troupe::net::detail {

using reply_message = boost::beast::http::response<boost::beast::http::string_body>;
using stream_header = boost::beast::http::response<boost::beast::http::empty_body>;

/// What the connection knows about the request being answered.
struct reply_context {
  int version = 11;        ///< the request's: 10 or 11
  bool head = false;       ///< HEAD: Content-Length of the body, no body
  bool keep_alive = false; ///< the connection stays open after this reply
};

/// The reply to write. `keep_alive` comes back false when the handler asked
/// for `Connection: close`. A status outside 200..599 becomes 500
/// internal-error; so does a response Beast cannot hold (a header field
/// over 64 KiB).
[[nodiscard]] reply_message build_reply(server_response r, reply_context& ctx);

/// The header of an SSE response (200, text/event-stream, no-cache,
/// Connection: close; chunked for HTTP/1.1, close-delimited for 1.0), and
/// the `extra` fields that `header_is_writable` (others are dropped).
[[nodiscard]] stream_header build_stream_header(const header_list& extra, int version);

/// True when `name: value` may be written (token name, no CR/LF/NUL).
[[nodiscard]] bool header_is_writable(std::string_view name, std::string_view value);

/// The current time as an HTTP date (RFC 9110 5.6.7), cached per second.
[[nodiscard]] std::string_view http_date();

} // namespace troupe::net::detail
