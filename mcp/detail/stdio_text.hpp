#pragma once
// The text side of the stdio transport, without any I/O: cutting stdout
// into messages (one per line, an overlong one dropped rather than
// buffered), keeping the tail of stderr, and saying how a server ended.
// Internal to mcp/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::mcp::detail {

/// Cuts a byte stream into lines ("\n", one "\r" before it dropped). A
/// line longer than `max` is not kept: its bytes are counted and reported
/// once its end arrives, and the lines after it are read normally. Lines of
/// nothing but blanks are skipped.
class line_reader {
public:
  explicit line_reader(size_t max) : max_(max) {}

  /// `on_line(std::string_view)` per complete line, `on_oversized(uint64_t
  /// bytes)` per dropped one.
  template <class Line, class Oversized>
  void feed(std::string_view bytes, Line&& on_line, Oversized&& on_oversized) {
    while (!bytes.empty()) {
      size_t nl = bytes.find('\n');
      std::string_view piece = bytes.substr(0, nl);
      if (skipping_) {
        skipped_ += piece.size();
      } else if (line_.size() + piece.size() > max_) {
        skipping_ = true;
        skipped_ = line_.size() + piece.size();
        std::string().swap(line_);
      } else {
        line_.append(piece);
      }
      if (nl == std::string_view::npos)
        return;
      end_line(on_line, on_oversized);
      bytes.remove_prefix(nl + 1);
    }
  }

  /// The stream ended: a last line without "\n" still counts.
  template <class Line, class Oversized>
  void finish(Line&& on_line, Oversized&& on_oversized) {
    if (skipping_ || !line_.empty())
      end_line(on_line, on_oversized);
  }

private:
  template <class Line, class Oversized>
  void end_line(Line& on_line, Oversized& on_oversized) {
    if (skipping_) {
      on_oversized(skipped_);
      skipping_ = false;
      skipped_ = 0;
      return;
    }
    if (!line_.empty() && line_.back() == '\r')
      line_.pop_back();
    if (line_.find_first_not_of(" \t\r") != std::string::npos)
      on_line(std::string_view{line_});
    line_.clear();
  }

  size_t max_;
  std::string line_;
  bool skipping_ = false;
  uint64_t skipped_ = 0;
};

/// The last `cap` bytes written to it.
class tail_buffer {
public:
  explicit tail_buffer(size_t cap) : cap_(cap) {}
  void append(std::string_view bytes);
  [[nodiscard]] const std::string& text() const { return text_; }

private:
  size_t cap_;
  std::string text_;
};

/// Up to `count` last non-blank lines of `text`, each made printable and
/// cut to 300 bytes, joined with " | "; empty when there are none.
[[nodiscard]] std::string last_lines(std::string_view text, size_t count = 3);

/// "exited with status 3", "was killed by signal 9 (KILL)".
[[nodiscard]] std::string describe_wait_status(int status);

} // namespace troupe::mcp::detail
