#pragma once
// An endpoint:model pair's health as a JSON document and back: how the
// gateway saves it in the journal database (persistence/health_store.hpp) and
// how `troupe models` reads it. A document that does not parse, or whose
// fields are out of range, is an error naming the field: the caller then
// starts that pair healthy.

#include <string>

#include <caf/expected.hpp>

#include "core/gateway/endpoint_health.hpp"

namespace troupe {

/// What is kept of a pair: its health and what its replies cost so far.
struct saved_health {
  endpoint_health health;
  uint64_t cost_micro_usd = 0;
};

[[nodiscard]] std::string health_to_json(const saved_health& s);

/// In flight and a half-open probe out are never restored (forget_in_flight).
[[nodiscard]] caf::expected<saved_health> health_from_json(const std::string& doc);

} // namespace troupe
