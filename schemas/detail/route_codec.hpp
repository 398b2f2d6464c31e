#pragma once
// RouteAttempt between its Cap'n Proto form and the plain struct of
// schemas/event.hpp. Internal to schemas/ (codec.cpp).

#include "journal.capnp.h"
#include "schemas/event.hpp"

namespace troupe::detail {

void put(schema::RouteAttempt::Builder b, const route_attempt& x);
[[nodiscard]] route_attempt get(schema::RouteAttempt::Reader r);

} // namespace troupe::detail
