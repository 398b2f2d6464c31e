#pragma once
// The text/event-stream wire format (WHATWG HTML, "Server-sent events") as
// the server's SSE streams write it. Pure, tested directly.

#include <string>
#include <string_view>

namespace troupe::net::detail {

/// Appends one event: `id:` and `event:` lines when not empty (line breaks
/// in them are dropped, and NUL in the id, which a client would otherwise
/// ignore the whole id for), one `data:` line per line of `data` (split at
/// CRLF, LF or CR, as a client splits: the client reads back `data` with
/// every line break as LF; an empty `data` is one empty line, so the client
/// still dispatches the event), then the blank line that ends it.
void append_sse_event(std::string& out, std::string_view id, std::string_view event,
                      std::string_view data);

/// Appends a comment line (`: text`) and a blank line: clients ignore it;
/// proxies and the client's own idle timers see traffic.
void append_sse_comment(std::string& out, std::string_view text);

} // namespace troupe::net::detail
