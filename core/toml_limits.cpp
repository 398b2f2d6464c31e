#include "core/toml_limits.hpp"

#include <cstdint>
#include <vector>

#include "core/runtime_errc.hpp"

namespace troupe {

namespace {

// A pass over TOML text that tracks only what nesting needs: whether a key
// or a value is being read, the open arrays and inline tables, and the dots
// of the keys on the path. Strings and comments are skipped so that brackets
// and dots inside them do not count. Malformed input is not judged here:
// toml++ reports it with a better message, as long as it cannot recurse
// without bound.
class nesting_scanner {
public:
  nesting_scanner(std::string_view text, const std::string& source)
    : text_(text), source_(source) {
    // nop
  }

  caf::error run() {
    while (pos_ < text_.size()) {
      auto c = text_[pos_];
      if (c == '\n') {
        newline();
        continue;
      }
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n')
          ++pos_;
        continue;
      }
      if (c == '"' || c == '\'') {
        skip_string(c);
        continue;
      }
      if (auto err = token(c))
        return err;
      ++pos_;
    }
    return caf::none;
  }

private:
  struct open_bracket {
    char kind;          // '[' or '{'
    unsigned key_dots;  // dots of the key whose value it is
  };

  caf::error token(char c) {
    switch (c) {
      case '.':
        if (!in_key_)
          return caf::none; // a float, a date or a time
        ++key_dots_;
        return check(); // the dots of a [header] or of a key
      case '=':
        if (!in_header_)
          in_key_ = false; // the value; its brackets nest under this key
        return caf::none;
      case '[':
        if (open_.empty() && in_key_ && !in_header_) {
          in_header_ = true; // [table] or [[array of tables]]
          key_dots_ = 0;
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '[')
            ++pos_;
          return check();
        }
        return open('[', false);
      case '{':
        return open('{', true);
      case ']':
        if (in_header_ && open_.empty()) {
          header_levels_ = key_dots_ + 1;
          in_header_ = in_key_ = false;
          key_dots_ = 0;
          return caf::none;
        }
        close();
        return caf::none;
      case '}':
        close();
        return caf::none;
      case ',':
        in_key_ = !open_.empty() && open_.back().kind == '{';
        if (in_key_)
          key_dots_ = 0;
        return caf::none;
      default:
        return caf::none;
    }
  }

  caf::error open(char kind, bool starts_key) {
    open_.push_back({kind, key_dots_});
    stacked_dots_ += key_dots_;
    key_dots_ = 0;
    in_key_ = starts_key;
    return check();
  }

  void close() {
    if (!open_.empty()) {
      stacked_dots_ -= open_.back().key_dots;
      open_.pop_back();
    }
    key_dots_ = 0;
    in_key_ = false;
  }

  void newline() {
    ++pos_;
    ++line_;
    line_start_ = pos_;
    if (open_.empty()) { // arrays may span lines; keys start on a new one
      in_key_ = true;
      in_header_ = false;
      key_dots_ = 0;
    }
  }

  // Skips a basic ("…", """…""") or literal ('…', '''…''') string. A single
  // line string that is not closed ends at the line's end.
  void skip_string(char quote) {
    bool multi = text_.substr(pos_, 3) == std::string_view(quote == '"' ? "\"\"\"" : "'''");
    pos_ += multi ? 3 : 1;
    while (pos_ < text_.size()) {
      auto c = text_[pos_];
      if (c == '\\' && quote == '"') {
        pos_ += 1;
        if (pos_ < text_.size() && text_[pos_] == '\n')
          newline_in_string();
        else
          ++pos_;
        continue;
      }
      if (c == '\n') {
        if (!multi)
          return;
        newline_in_string();
        continue;
      }
      if (c == quote) {
        if (!multi) {
          ++pos_;
          return;
        }
        if (closes_multi(quote)) {
          pos_ += 3;
          // Up to two more quotes belong to the string ("""a""""" is a"").
          for (int k = 0; k < 2 && pos_ < text_.size() && text_[pos_] == quote; ++k)
            ++pos_;
          return;
        }
      }
      ++pos_;
    }
  }

  bool closes_multi(char quote) const {
    return pos_ + 2 < text_.size() && text_[pos_ + 1] == quote && text_[pos_ + 2] == quote;
  }

  void newline_in_string() {
    ++pos_;
    ++line_;
    line_start_ = pos_;
  }

  caf::error check() const {
    // Levels of tables and arrays around the current point: a [header] of n
    // parts is n deep; a key of k parts adds k - 1; a bracket adds one.
    auto depth = in_header_ ? uint64_t{key_dots_} + 1
                            : header_levels_ + stacked_dots_ + key_dots_ + open_.size();
    if (depth <= max_toml_depth)
      return caf::none;
    return caf::make_error(
      runtime_errc::invalid_scenario,
      source_ + ":" + std::to_string(line_) + ":" + std::to_string(pos_ - line_start_ + 1)
        + ": nested more than " + std::to_string(max_toml_depth)
        + " levels deep (tables, dotted keys, arrays and inline tables count); "
          "expected at most "
        + std::to_string(max_toml_depth) + " levels");
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
  bool in_key_ = true;
  bool in_header_ = false;
  unsigned key_dots_ = 0;
  unsigned header_levels_ = 0;
  uint64_t stacked_dots_ = 0;
  std::vector<open_bracket> open_;
};

} // namespace

caf::error check_toml_limits(std::string_view text, const std::string& source) {
  if (text.size() > max_toml_bytes)
    return caf::make_error(runtime_errc::invalid_scenario,
                           source + ": " + std::to_string(text.size())
                             + " bytes; expected at most "
                             + std::to_string(max_toml_bytes >> 20) + " MiB");
  return nesting_scanner{text, source}.run();
}

} // namespace troupe
