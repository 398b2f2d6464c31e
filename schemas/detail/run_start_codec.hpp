#pragma once
// RunStart between its Cap'n Proto form and run_start (schemas/event.hpp).
// Internal to schemas/ (codec.cpp).

#include "journal.capnp.h"
#include "schemas/event.hpp"

namespace troupe::detail {

void put(schema::RunStart::Builder b, const run_start& x);
[[nodiscard]] run_start get(schema::RunStart::Reader r);

} // namespace troupe::detail
