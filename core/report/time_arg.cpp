#include "core/report/time_arg.hpp"

#include <string>

#include "core/jobs/utc_time.hpp"
#include "core/runtime_errc.hpp"

namespace troupe::report {

namespace {

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || (s[pos] != c && !(c == 'T' && (s[pos] == 't' || s[pos] == ' '))))
    return false;
  ++pos;
  return true;
}

uint32_t days_in_month(int64_t y, int64_t m) {
  static const uint32_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

} // namespace

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  size_t pos = 0;
  int64_t y, mo, d, h, mi, sec;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo)
      || !expect(s, pos, '-') || !digits(s, pos, 2, d) || !expect(s, pos, 'T')
      || !digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi)
      || !expect(s, pos, ':') || !digits(s, pos, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  int64_t frac_us = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t n = 0;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_us += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0)
      return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t oh, om;
    if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om) || oh > 23
        || om > 59)
      return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  auto days = jobs::days_from_civil({y, static_cast<uint32_t>(mo), static_cast<uint32_t>(d)});
  auto secs = days * 86400 + h * 3600 + mi * 60 + std::min<int64_t>(sec, 59) - offset_s;
  return secs * 1'000'000 + frac_us;
}

caf::expected<int64_t> parse_since(std::string_view text, int64_t now_us) {
  if (auto t = parse_rfc3339(text))
    return *t;
  auto bad = [&] {
    return caf::make_error(runtime_errc::invalid_arguments,
                           "since '" + std::string{text}
                             + "': neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a "
                               "duration back from now (90s, 30m, 24h, 7d, 2w)");
  };
  if (text.size() < 2 || text.size() > 8)
    return bad();
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9')
      return bad();
    n = n * 10 + (text[i] - '0');
  }
  int64_t unit_s = 0;
  switch (text.back()) {
    case 's': unit_s = 1; break;
    case 'm': unit_s = 60; break;
    case 'h': unit_s = 3600; break;
    case 'd': unit_s = 86400; break;
    case 'w': unit_s = 7 * 86400; break;
    default: return bad();
  }
  if (n == 0)
    return bad();
  return now_us - n * unit_s * 1'000'000;
}

} // namespace troupe::report
