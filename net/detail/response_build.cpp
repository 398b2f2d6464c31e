#include "net/detail/response_build.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "net/problem.hpp"

namespace troupe::net::detail {

namespace http = boost::beast::http;

namespace {

boost::beast::string_view bsv(std::string_view s) {
  return {s.data(), s.size()};
}

bool iequals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(bsv(a), bsv(b));
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

// Fields the server writes itself; a handler's copy would contradict them.
bool is_server_field(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding")
         || iequals(name, "date") || iequals(name, "connection");
}

bool has_field(const header_list& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals(n, name))
      return true;
  return false;
}

template <class Message>
void add_fields(Message& m, const header_list& headers) {
  for (const auto& [name, value] : headers)
    if (!is_server_field(name) && header_is_writable(name, value))
      m.insert(name, value);
}

bool wants_close(const header_list& headers) {
  for (const auto& [name, value] : headers)
    if (iequals(name, "connection") && iequals(value, "close"))
      return true;
  return false;
}

void set_connection(http::fields& f, const reply_context& ctx) {
  if (!ctx.keep_alive)
    f.set(http::field::connection, "close");
  else if (ctx.version < 11)
    f.set(http::field::connection, "keep-alive"); // 1.0 clients assume close otherwise
}

reply_message assemble(server_response& r, reply_context& ctx) {
  reply_message m{http::int_to_status(static_cast<unsigned>(r.status)), 11};
  m.result(static_cast<unsigned>(r.status));
  if (http::obsolete_reason(m.result()) == "<unknown-status>")
    m.reason("Status");
  m.set(http::field::date, bsv(http_date()));
  if (wants_close(r.headers))
    ctx.keep_alive = false;
  set_connection(m.base(), ctx);
  add_fields(m, r.headers);
  bool bodiless = r.status == 204 || r.status == 304;
  if (bodiless)
    return m;
  if (!r.content_type.empty() && !has_field(r.headers, "content-type"))
    m.set(http::field::content_type, r.content_type);
  m.content_length(r.body.size());
  if (!ctx.head)
    m.body() = std::move(r.body);
  return m;
}

} // namespace

bool header_is_writable(std::string_view name, std::string_view value) {
  if (name.empty())
    return false;
  for (char c : name)
    if (!is_tchar(c))
      return false;
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return false;
  return true;
}

reply_message build_reply(server_response r, reply_context& ctx) {
  if (r.status < 200 || r.status > 599)
    r = problem(500, "internal-error", "Internal server error",
                "the handler answered with status " + std::to_string(r.status));
  try {
    return assemble(r, ctx);
  } catch (const std::exception& e) { // Beast: a field over 64 KiB
    auto fallback = problem(500, "internal-error", "Internal server error",
                            std::string{"the reply could not be written: "} + e.what());
    return assemble(fallback, ctx);
  }
}

stream_header build_stream_header(const header_list& extra, int version) {
  stream_header m{http::status::ok, 11};
  m.set(http::field::date, bsv(http_date()));
  m.set(http::field::content_type, "text/event-stream");
  m.set(http::field::cache_control, "no-cache");
  m.set(http::field::connection, "close");
  try {
    add_fields(m, extra);
  } catch (const std::exception&) { // a field over 64 KiB: the stream goes without it
  }
  if (version >= 11)
    m.chunked(true);
  return m;
}

std::string_view http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char text[32] = {};
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != cached_second) {
    // Not strftime: its %a and %b follow the locale.
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    cached_second = now;
  }
  return text;
}

} // namespace troupe::net::detail
