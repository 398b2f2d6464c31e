#pragma once
// Errors of the net layer's own setup. A request that fails is not an error
// value: it ends with an `http_outcome` (net/http_types.hpp) naming why.

#include <cstdint>

#include <caf/error.hpp>
#include <caf/make_message.hpp> // before CAF_ERROR_CODE_ENUM: its expansion needs it

namespace troupe::net {

enum class net_errc : uint8_t {
  /// The HTTP client could not start: libcurl would not initialize, or no
  /// epoll set, eventfd or thread could be created. The context names which.
  start_failed = 1,
};

} // namespace troupe::net

CAF_ERROR_CODE_ENUM(troupe::net::net_errc, "net")
