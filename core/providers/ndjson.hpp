#pragma once
// Newline-delimited JSON framing (Ollama's streams), incremental: one JSON
// value per line, lines end at "\n" (a "\r" before it is dropped), lines of
// nothing but whitespace are skipped, a last line without "\n" still
// counts. The JSON itself is the decoder's to parse.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/providers/detail/line_splitter.hpp"
#include "core/providers/wire.hpp"

namespace troupe::providers {

struct ndjson_line {
  std::string text;
  uint64_t line = 0; ///< from 1, counting skipped blank lines too
};

class ndjson_parser {
public:
  explicit ndjson_parser(size_t max_line = max_line_bytes)
    : max_(max_line), lines_(false, max_line) {}

  /// Appends the non-blank lines `bytes` completes to `out`. False once a
  /// line grew past the limit; `error()` then says which, and the parser
  /// stays failed.
  bool feed(std::string_view bytes, std::vector<ndjson_line>& out) {
    return check(lines_.feed(bytes, [&](std::string_view l) { take(l, out); }));
  }
  /// The body ended: a last line without "\n" is taken.
  bool finish(std::vector<ndjson_line>& out) {
    return check(lines_.finish([&](std::string_view l) { take(l, out); }));
  }

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] uint64_t lines() const { return lines_.lines(); }

private:
  void take(std::string_view line, std::vector<ndjson_line>& out) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
      return;
    out.push_back({std::string(line), lines_.lines()});
  }
  bool check(bool ok) {
    if (!ok && error_.empty())
      error_ = "line " + std::to_string(lines_.lines() + 1) + " is longer than "
               + std::to_string(max_) + " bytes";
    return error_.empty();
  }

  size_t max_;
  detail::line_splitter lines_;
  std::string error_;
};

} // namespace troupe::providers
