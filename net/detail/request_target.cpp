#include "net/detail/request_target.hpp"

namespace troupe::net::detail {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// The path and query of an absolute-form target, or the target itself.
std::optional<std::string_view> strip_authority(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size())
      continue;
    bool same = true;
    for (size_t i = 0; i < scheme.size() && same; ++i)
      same = (target[i] | 0x20) == scheme[i];
    if (!same)
      continue;
    auto rest = target.substr(scheme.size());
    auto slash = rest.find_first_of("/?");
    if (slash == std::string_view::npos)
      return std::string_view{"/"};
    if (rest[slash] == '?')
      return std::nullopt; // `http://host?x`: no path to decode against
    return rest.substr(slash);
  }
  return target;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0')
        return std::nullopt;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

std::optional<request_target> parse_target(std::string_view target) {
  if (target == "*")
    return request_target{"*", {}};
  auto stripped = strip_authority(target);
  if (!stripped || stripped->empty() || stripped->front() != '/')
    return std::nullopt;
  auto rest = *stripped;
  auto fragment = rest.find('#'); // clients must not send one; ignore it if they do
  if (fragment != std::string_view::npos)
    rest = rest.substr(0, fragment);
  request_target out;
  auto qmark = rest.find('?');
  auto path = percent_decode(rest.substr(0, qmark), false);
  if (!path)
    return std::nullopt;
  out.path = std::move(*path);
  if (qmark == std::string_view::npos)
    return out;
  auto query = rest.substr(qmark + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
      eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!name || !value)
      return std::nullopt;
    out.query.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

} // namespace troupe::net::detail
