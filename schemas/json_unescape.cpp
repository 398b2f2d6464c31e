#include "schemas/json_unescape.hpp"

#include <cstdint>

#include "schemas/codec.hpp"

namespace troupe {

namespace {

caf::error bad_escape(std::string_view where, size_t offset,
                      const std::string& what) {
  return caf::make_error(schema_errc::malformed_event,
                         "malformed journal event at " + std::string(where)
                           + ": \\u escape at byte " + std::to_string(offset + 1)
                           + ": " + what);
}

// The value of the four hex digits at s[at], or -1 if there are not four.
long hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size())
    return -1;
  long value = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = s[i];
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

bool is_high_surrogate(long cp) {
  return cp >= 0xD800 && cp <= 0xDBFF;
}

bool is_low_surrogate(long cp) {
  return cp >= 0xDC00 && cp <= 0xDFFF;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Code point `cp` written so that the buggy decoder still reads `cp`.
void append_decodable(std::string& out, uint32_t cp) {
  switch (cp) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    // No hex letters, so decoded right; a raw NUL ends the decoder's input.
    case 0: out += "\\u0000"; return;
  }
  append_utf8(out, cp);
}

} // namespace

caf::expected<std::string> unescape_unicode_escapes(std::string_view line,
                                                    std::string_view where) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"')
      in_string = !in_string;
    // Outside strings and at the end of the line, a backslash is the
    // decoder's to refuse.
    if (!in_string || c != '\\' || i + 1 == line.size()) {
      out += c;
      continue;
    }
    if (line[i + 1] != 'u') {
      // A short escape: copied whole so an escaped quote does not end the string.
      out += c;
      out += line[++i];
      continue;
    }
    auto start = i;
    long cp = hex4(line, i + 2);
    if (cp < 0)
      return bad_escape(where, start, "expected four hex digits");
    i += 5;
    if (is_high_surrogate(cp)) {
      bool escape_follows = i + 2 < line.size() && line[i + 1] == '\\'
                            && line[i + 2] == 'u';
      long low = escape_follows ? hex4(line, i + 3) : -1;
      if (!is_low_surrogate(low))
        return bad_escape(where, start,
                          "high surrogate not followed by a \\u low surrogate; "
                          "expected a pair such as \\ud83d\\ude00");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      i += 6;
    } else if (is_low_surrogate(cp)) {
      return bad_escape(where, start,
                        "low surrogate without a high surrogate before it");
    }
    append_decodable(out, static_cast<uint32_t>(cp));
  }
  return out;
}

} // namespace troupe
