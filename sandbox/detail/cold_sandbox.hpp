#pragma once
// The cold path: one new sandbox per call, built and torn down around the
// command (`run_sandboxed`, sandbox/sandbox_process.hpp).

#include <string>

#include <caf/expected.hpp>

#include "sandbox/detail/sandbox_report.hpp"
#include "core/sandbox_spec.hpp"

namespace troupe::detail {

/// Runs the normalized `req` in a new sandbox (without one, as a plain child
/// in a new session, when `isolate` is false) and returns once every
/// process of the call has exited. `probe_file` non-empty runs the probe
/// instead of the command; `failed` receives the stage of a setup failure.
/// Safe from multi-threaded callers; blocks for the whole call.
/// Errors: `unavailable`, `invalid_request`, `spawn_failed`.
[[nodiscard]] caf::expected<sandbox_result>
run_cold(const sandbox_request& req, bool isolate, const std::string& probe_file,
         stage* failed = nullptr);

} // namespace troupe::detail
