#pragma once
// The approvals actor: the run side of human approvals. A run asks with
// `(approval_atom, approval_ticket)` and gets an `approval_decision` once a
// person decided (from this process through the embedding API, or from
// another one with `troupe approve|deny`), or when the deadline passes:
// then the request is denied and recorded as timed out (fail closed).
// Requests live in the journal database, so they survive restarts; decisions
// are picked up by polling it, off CAF's cooperative threads.

#include <chrono>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "persistence/approval_store.hpp"

namespace troupe {

struct approvals_config {
  std::string db_path;
  std::chrono::milliseconds poll_interval{100};
  /// Called (on the approvals thread) for every new request; keep it short.
  std::function<void(const persistence::approval_row&)> on_requested;
  std::function<int64_t()> clock; ///< microseconds since the epoch
};

[[nodiscard]] caf::expected<caf::actor> spawn_approvals(caf::actor_system& sys,
                                                        approvals_config cfg);

} // namespace troupe
