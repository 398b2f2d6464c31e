#include "serve/dashboard.hpp"

#include "net/problem.hpp"
#include "serve/dashboard_assets.hpp"

namespace troupe::serve {

namespace {

constexpr const char* csp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void secure(net::server_response& r) {
  r.headers.emplace_back("Content-Security-Policy", csp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
}

// Whether If-None-Match lists `etag` (or is `*`).
bool matches(const std::string& if_none_match, std::string_view etag) {
  if (if_none_match == "*")
    return true;
  size_t i = 0;
  while (i < if_none_match.size()) {
    auto j = if_none_match.find(',', i);
    if (j == std::string::npos)
      j = if_none_match.size();
    auto tag = std::string_view{if_none_match}.substr(i, j - i);
    while (!tag.empty() && tag.front() == ' ')
      tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ')
      tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/")
      tag.remove_prefix(2);
    if (tag == etag)
      return true;
    i = j + 1;
  }
  return false;
}

} // namespace

std::optional<net::server_response> dashboard_response(const net::server_request& req) {
  std::string_view file;
  if (req.path == "/" || req.path == "/index.html")
    file = "index.html";
  else if (req.path.rfind("/ui/", 0) == 0)
    file = std::string_view{req.path}.substr(4);
  else
    return std::nullopt;
  net::server_response r;
  if (req.method != "GET" && req.method != "HEAD") {
    r = net::problem(405, "method-not-allowed", "Method not allowed", "this resource answers GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  // Only names the table holds: `..` and the like find nothing.
  auto* a = find_dashboard_asset(file);
  if (a == nullptr) {
    r = net::problem(404, "not-found", "Not found", "path " + req.path + " does not exist");
    secure(r);
    return r;
  }
  r.headers.emplace_back("ETag", std::string(a->etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  secure(r);
  if (auto inm = req.header("if-none-match"); inm && matches(*inm, a->etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = std::string(a->content_type);
  r.body = std::string(a->body);
  return r;
}

} // namespace troupe::serve
