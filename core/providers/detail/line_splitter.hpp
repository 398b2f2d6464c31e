#pragma once
// Cuts a byte stream that arrives in pieces into lines, with a cap on the
// length of one line. Shared by the SSE and NDJSON framings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::providers::detail {

class line_splitter {
public:
  /// `cr_ends_line`: SSE ends lines at "\n", "\r\n" or a lone "\r";
  /// otherwise (NDJSON) only "\n" ends a line and one "\r" before it is
  /// dropped.
  line_splitter(bool cr_ends_line, size_t max_line) : cr_(cr_ends_line), max_(max_line) {}

  /// Calls `on_line(std::string_view)` for each line completed by `bytes`
  /// (the view lives until the call returns). False, and nothing more ever,
  /// once a line grew past the limit.
  template <class F>
  bool feed(std::string_view bytes, F&& on_line) {
    if (overflow_)
      return false;
    size_t i = 0;
    if (skip_lf_ && !bytes.empty()) {
      // The "\n" of a "\r\n" that the previous piece cut in two.
      if (bytes[0] == '\n')
        i = 1;
      skip_lf_ = false;
    }
    while (i < bytes.size()) {
      size_t j = cr_ ? find_cr_or_lf(bytes, i) : bytes.find('\n', i);
      if (j == std::string_view::npos)
        return append(bytes.substr(i));
      if (!append(bytes.substr(i, j - i)))
        return false;
      emit(on_line);
      if (bytes[j] == '\r') {
        if (j + 1 == bytes.size())
          skip_lf_ = true;
        else if (bytes[j + 1] == '\n')
          ++j;
      }
      i = j + 1;
    }
    return true;
  }

  /// The body ended: a last line without its terminator is still a line.
  template <class F>
  bool finish(F&& on_line) {
    if (overflow_)
      return false;
    if (!buf_.empty())
      emit(on_line);
    return true;
  }

  /// Lines completed so far; during `on_line`, the number of that line
  /// (counting from 1).
  [[nodiscard]] uint64_t lines() const { return lines_; }
  [[nodiscard]] bool overflow() const { return overflow_; }

private:
  // string_view::find_first_of calls memchr on its two-byte set once for
  // every byte scanned; this loop is several times faster over an SSE body.
  static size_t find_cr_or_lf(std::string_view s, size_t from) {
    for (size_t k = from; k < s.size(); ++k)
      if (s[k] == '\n' || s[k] == '\r')
        return k;
    return std::string_view::npos;
  }

  bool append(std::string_view piece) {
    if (buf_.size() + piece.size() > max_) {
      overflow_ = true;
      buf_.clear();
      buf_.shrink_to_fit();
      return false;
    }
    buf_.append(piece);
    return true;
  }

  template <class F>
  void emit(F& on_line) {
    ++lines_;
    std::string_view line = buf_;
    if (!cr_ && !line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    on_line(line);
    buf_.clear();
  }

  bool cr_;
  size_t max_;
  std::string buf_;
  bool skip_lf_ = false;
  bool overflow_ = false;
  uint64_t lines_ = 0;
};

} // namespace troupe::providers::detail
