#pragma once
// Errors of the net layer's own setup (the HTTP client's and server's). A
// request that fails is not an error value: the client ends it with an
// `http_outcome` (net/http_types.hpp) naming why, the server with a reply.

#include <cstdint>

#include <caf/error.hpp>
#include <caf/make_message.hpp> // before CAF_ERROR_CODE_ENUM: its expansion needs it

namespace troupe::net {

enum class net_errc : uint8_t {
  /// The HTTP client could not start: libcurl would not initialize, or no
  /// epoll set, eventfd or thread could be created. The context names which.
  start_failed = 1,
  /// The HTTP server could not listen: the host does not resolve, the
  /// address is in use or not ours, no permission. The context names
  /// host:port, the step and the system's reason.
  listen_failed = 2,
};

} // namespace troupe::net

CAF_ERROR_CODE_ENUM(troupe::net::net_errc, "net")
