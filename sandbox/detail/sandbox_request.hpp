#pragma once
// Checking sandbox requests and putting them in canonical form, and the
// isolation profile that decides which sandboxes can serve which requests.
// Shared by the cold path, the pool and troupe-sandbox-worker.

#include <filesystem>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"

namespace troupe::detail {

/// Checks `req` and puts it in the form sandboxes and pool keys use: writable
/// roots canonical, deduplicated, without roots nested in others, sorted;
/// cwd canonical (defaulted as `sandbox_request::cwd` says).
/// Errors: `sandbox_errc::invalid_request`.
[[nodiscard]] caf::expected<sandbox_request> normalize_request(const sandbox_request& req);

/// The writable roots part of `normalize_request`: absolute, existing
/// directories, not / and not in /proc, /sys or /dev; canonical, sorted,
/// deduplicated, and without roots nested in others.
[[nodiscard]] caf::expected<std::vector<std::filesystem::path>>
normalize_roots(const std::vector<std::filesystem::path>& roots);

/// The isolation profile of a normalized request: sandboxes with equal keys
/// have the same filesystem and network and can serve each other's calls.
[[nodiscard]] std::string profile_key(bool network,
                                      const std::vector<std::filesystem::path>& roots);

} // namespace troupe::detail
