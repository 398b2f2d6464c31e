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
/// and read-only roots canonical, deduplicated, without roots nested in
/// others, sorted; cwd canonical (defaulted as `sandbox_request::cwd` says).
/// Errors: `sandbox_errc::invalid_request`.
[[nodiscard]] caf::expected<sandbox_request> normalize_request(const sandbox_request& req);

/// The writable roots part of `normalize_request`: absolute, existing
/// directories, not / and not in /proc, /sys or /dev; canonical, sorted,
/// deduplicated, and without roots nested in others.
[[nodiscard]] caf::expected<std::vector<std::filesystem::path>>
normalize_roots(const std::vector<std::filesystem::path>& roots);

/// The read-only roots part of `normalize_request`: absolute, no NUL,
/// existing directories or regular files, not / and not in /proc, /sys or
/// /dev; canonical (symlinks resolved: a root is bound at its target),
/// sorted, deduplicated, without roots nested in others. Roots the sandbox
/// shows anyway are dropped: those in the system directories (see
/// `in_system_dirs`) and those equal to or inside a `writable` root (the
/// writable grant wins). `writable` must be normalized.
[[nodiscard]] caf::expected<std::vector<std::filesystem::path>>
normalize_read_only_roots(const std::vector<std::filesystem::path>& roots,
                          const std::vector<std::filesystem::path>& writable);

/// `paths` sorted, without duplicates and without paths inside another.
[[nodiscard]] std::vector<std::filesystem::path>
outermost(std::vector<std::filesystem::path> paths);

/// Whether `p` lies in /proc, /sys or /dev, where no root may be.
[[nodiscard]] bool in_kernel_dirs(const std::filesystem::path& p);

/// The isolation profile of a normalized request: sandboxes with equal keys
/// have the same filesystem and network and can serve each other's calls.
[[nodiscard]] std::string profile_key(bool network,
                                      const std::vector<std::filesystem::path>& roots);

} // namespace troupe::detail
