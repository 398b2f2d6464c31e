#pragma once
// What `sandboxed_child::start` does once it has decided on isolation;
// tests use it to run the unsandboxed path where namespaces work.

#include <memory>

#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"
#include "sandbox/sandboxed_child.hpp"

namespace troupe::detail {

struct sandboxed_child_internal {
  /// `sandboxed_child::start`, isolated or not as `isolate` says (no
  /// availability check: the caller made it).
  [[nodiscard]] static caf::expected<std::unique_ptr<sandboxed_child>>
  start(const sandbox_request& req, bool isolate);
};

} // namespace troupe::detail
