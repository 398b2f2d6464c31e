#include "net/http_types.hpp"

namespace troupe::net {

const std::string* find_header(const http_headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (n == name)
      return &v;
  return nullptr;
}

std::string_view to_string(transport_error e) {
  switch (e) {
    case transport_error::none:
      return "none";
    case transport_error::timeout:
      return "timeout";
    case transport_error::connection:
      return "connection";
    case transport_error::canceled:
      return "canceled";
    case transport_error::protocol:
      return "protocol";
    case transport_error::invalid:
      return "invalid";
    case transport_error::internal:
      return "internal";
  }
  return "unknown";
}

std::string_view to_string(timeout_kind k) {
  switch (k) {
    case timeout_kind::none:
      return "none";
    case timeout_kind::connect:
      return "connect";
    case timeout_kind::first_byte:
      return "first_byte";
    case timeout_kind::idle:
      return "idle";
    case timeout_kind::total:
      return "total";
  }
  return "unknown";
}

std::string_view to_string(connection_error c) {
  switch (c) {
    case connection_error::none:
      return "none";
    case connection_error::refused:
      return "refused";
    case connection_error::reset:
      return "reset";
    case connection_error::closed:
      return "closed";
    case connection_error::dns:
      return "dns";
    case connection_error::tls:
      return "tls";
    case connection_error::other:
      return "other";
  }
  return "unknown";
}

} // namespace troupe::net
