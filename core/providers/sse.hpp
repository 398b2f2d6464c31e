#pragma once
// Server-sent events framing (the WHATWG EventSource "interpreting an event
// stream" rules), incremental: bytes arrive in pieces split anywhere, even
// between the "\r" and "\n" of one line end. What matters for model
// streams:
//
//   stream = [BOM] *(line)            line ends: "\r\n" | "\n" | "\r"
//   ":" ...                           a comment (keep-alive), ignored
//   "event:" value                    the event's type
//   "data:" value                     one line of data; several are joined by "\n"
//   "id:" / "retry:" / other fields   ignored
//   ""                                a blank line dispatches the event
//
// One space after the colon is dropped; a line without a colon is a field
// with an empty value. An event without any data line is not dispatched.
// Deliberate deviation: at the end of the body an event not yet closed by a
// blank line is dispatched all the same (its bytes all arrived; a decoder
// decides whether the stream was complete by its own terminator).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/providers/detail/line_splitter.hpp"
#include "core/providers/wire.hpp"

namespace troupe::providers {

struct sse_event {
  std::string type; ///< the `event:` field; empty when the event had none
  std::string data;
  uint64_t line = 0; ///< line number (from 1) of the event's first data line
};

class sse_parser {
public:
  explicit sse_parser(size_t max_line = max_line_bytes);

  /// Appends the events `bytes` completes to `out`. False once a line (or an
  /// event's joined data) grew past the limit; `error()` then says where,
  /// and the parser stays failed.
  bool feed(std::string_view bytes, std::vector<sse_event>& out);
  /// The body ended: the last line and a last unclosed event are taken.
  bool finish(std::vector<sse_event>& out);

  [[nodiscard]] const std::string& error() const { return error_; }
  /// Lines seen so far.
  [[nodiscard]] uint64_t lines() const { return lines_.lines(); }

private:
  void on_line(std::string_view line, std::vector<sse_event>& out);
  void dispatch(std::vector<sse_event>& out);
  bool check(bool ok);

  size_t max_;
  detail::line_splitter lines_;
  std::string bom_;       ///< the first bytes, until they are known not to be a BOM
  bool bom_done_ = false;
  sse_event pending_;
  bool has_data_ = false;
  std::string error_;
};

} // namespace troupe::providers
