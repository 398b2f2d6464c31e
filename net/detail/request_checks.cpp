#include "net/detail/request_checks.hpp"

#include <iterator>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace troupe::net::detail {

namespace http = boost::beast::http;

namespace {

refusal malformed(std::string detail) {
  return {400, "malformed-request", "Malformed request", std::move(detail)};
}

// Transfer codings named over every Transfer-Encoding field.
size_t coding_count(const http::request_header<>& req) {
  size_t n = 0;
  auto fields = req.equal_range(http::field::transfer_encoding);
  for (auto f = fields.first; f != fields.second; ++f) {
    http::token_list list{f->value()};
    n += static_cast<size_t>(std::distance(list.begin(), list.end()));
  }
  return n;
}

} // namespace

refusal refusal_for(const boost::system::error_code& ec, const http_server_options& opts) {
  if (ec == http::error::header_limit)
    return {431, "headers-too-large", "Request header fields too large",
            "the request's header section is over " + std::to_string(opts.max_header_bytes)
              + " bytes"};
  if (ec == http::error::body_limit)
    return {413, "body-too-large", "Request body too large",
            "the request body is over " + std::to_string(opts.max_body_bytes) + " bytes"};
  return malformed(ec.message());
}

header_verdict check_header(const request_parser& p) {
  const auto& req = p.get();
  header_verdict v;
  auto hosts = req.count(http::field::host);
  if ((req.version() >= 11 && hosts == 0) || hosts > 1) {
    v.refused = malformed("an HTTP/1.1 request needs exactly one Host header");
    return v;
  }
  if (req.find(http::field::transfer_encoding) != req.end()) {
    // Framing a request smuggler could exploit: the length is not chunked's.
    if (req.version() < 11) {
      v.refused = malformed("Transfer-Encoding in an HTTP/1.0 request");
      return v;
    }
    if (!p.chunked()) {
      v.refused = malformed("the last transfer coding must be chunked");
      return v;
    }
    if (coding_count(req) != 1) {
      v.refused = refusal{501, "unsupported-transfer-encoding", "Transfer coding not supported",
                          "only `Transfer-Encoding: chunked` is supported"};
      return v;
    }
  }
  if (auto it = req.find(http::field::expect); it != req.end()) {
    if (!boost::beast::iequals(it->value(), "100-continue")) {
      v.refused = refusal{417, "expectation-failed", "Expectation failed",
                          "only `Expect: 100-continue` is supported"};
      return v;
    }
    v.send_continue = req.version() >= 11;
  }
  auto target = req.target();
  v.target = parse_target({target.data(), target.size()});
  if (!v.target)
    v.refused = malformed("the request target is not a path (or absolute URI) with valid "
                          "%-escapes");
  return v;
}

} // namespace troupe::net::detail
