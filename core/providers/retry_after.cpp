#include "core/providers/retry_after.hpp"

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace troupe::providers {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// A non-negative decimal number ("120", "0.25") scaled by `unit` into
// milliseconds, saturating at max_retry_after_ms.
std::optional<uint64_t> decimal_ms(std::string_view s, uint64_t unit) {
  s = trim(s);
  if (s.empty())
    return std::nullopt;
  uint64_t whole = 0;
  size_t i = 0;
  bool digits = false;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    digits = true;
    if (whole < max_retry_after_ms) // beyond, the result saturates anyway
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  uint64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    uint64_t scale = unit;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      digits = true;
      scale /= 10;
      frac_ms += static_cast<uint64_t>(s[i] - '0') * scale;
    }
  }
  if (!digits || i != s.size())
    return std::nullopt;
  if (whole >= max_retry_after_ms / unit)
    return max_retry_after_ms;
  return std::min(whole * unit + frac_ms, max_retry_after_ms);
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int> month_of(std::string_view name) {
  static constexpr std::array<std::string_view, 12> months{
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (size_t i = 0; i < months.size(); ++i)
    if (iequal(name, months[i]))
      return static_cast<int>(i) + 1;
  return std::nullopt;
}

std::optional<int> number(std::string_view s) {
  if (s.empty() || s.size() > 4)
    return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<int64_t> time_of_day(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':')
    return std::nullopt;
  auto h = number(s.substr(0, 2)), m = number(s.substr(3, 2)), sec = number(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60)
    return std::nullopt;
  return *h * 3600 + *m * 60 + *sec;
}

} // namespace

std::optional<int64_t> parse_http_date(std::string_view value) {
  // The three forms hold the same parts in different orders and separators:
  // a weekday name, a day, a month name, a year, hh:mm:ss, maybe "GMT".
  std::vector<std::string_view> tokens;
  for (size_t i = 0; i < value.size();) {
    auto sep = value.find_first_of(" ,-\t", i);
    if (sep == std::string_view::npos)
      sep = value.size();
    if (sep > i)
      tokens.push_back(value.substr(i, sep - i));
    i = sep + 1;
  }
  // The first number is the day, the second the year (asctime puts the
  // year after the time, the others before it).
  std::optional<int> month, day, year;
  std::optional<int64_t> seconds;
  for (size_t k = 0; k < tokens.size(); ++k) {
    auto t = tokens[k];
    auto n = number(t);
    auto m = month_of(t);
    if (k == 0 && !n && !m)
      continue; // the weekday; nobody checks that it matches the date
    if (m && !month) {
      month = m;
    } else if (auto s = time_of_day(t); s && !seconds) {
      seconds = s;
    } else if (n && !day && t.size() <= 2) {
      day = n;
    } else if (n && day && !year && (t.size() == 2 || t.size() == 4)) {
      year = t.size() == 2 ? (*n < 70 ? 2000 + *n : 1900 + *n) : *n;
    } else if (!iequal(t, "GMT") && !iequal(t, "UTC")) {
      return std::nullopt;
    }
  }
  if (!month || !day || !year || !seconds || *day < 1 || *day > 31 || *year < 1970)
    return std::nullopt;
  return days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400
         + *seconds;
}

std::optional<uint64_t> parse_retry_after(std::string_view value,
                                          std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (auto ms = decimal_ms(value, 1000))
    return ms;
  auto at = parse_http_date(value);
  if (!at)
    return std::nullopt;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  int64_t wait = *at * 1000 - now_ms;
  if (wait <= 0)
    return 0;
  return std::min(static_cast<uint64_t>(wait), max_retry_after_ms);
}

std::optional<uint64_t> retry_after_ms(const header_list& headers,
                                       std::chrono::system_clock::time_point now) {
  std::optional<uint64_t> seconds_form;
  for (auto& [name, value] : headers) {
    if (iequal(name, "retry-after-ms")) {
      if (auto ms = decimal_ms(value, 1))
        return ms;
    } else if (iequal(name, "retry-after") && !seconds_form) {
      seconds_form = parse_retry_after(value, now);
    }
  }
  return seconds_form;
}

} // namespace troupe::providers
