#pragma once
// An endpoint:model pair's health as a JSON document and back: how the
// gateway saves it in the journal database (persistence/health_store.hpp) and
// how `troupe models` reads it. A document that does not parse, or whose
// fields are out of range, is an error naming the field: the caller then
// starts that pair healthy.

#include <map>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "core/gateway/endpoint_health.hpp"

namespace troupe {

/// The last health check of an endpoint (actors/endpoint_check.hpp): its
/// model listing, timed.
struct endpoint_check {
  int64_t at_us = 0; ///< when it ended (system clock)
  bool ok = false;
  std::string error; ///< why not, for people
  uint64_t latency_us = 0;
  /// model -> listed, or for Ollama warm (loaded) / cold (on disk only).
  std::map<std::string, std::string> models;
};

/// What is kept of a pair: its health, what its replies cost so far, and its
/// endpoint's last check.
struct saved_health {
  endpoint_health health;
  uint64_t cost_micro_usd = 0;
  std::optional<endpoint_check> last_check;
};

[[nodiscard]] std::string health_to_json(const saved_health& s);

/// In flight and a half-open probe out are never restored (forget_in_flight).
[[nodiscard]] caf::expected<saved_health> health_from_json(const std::string& doc);

} // namespace troupe
