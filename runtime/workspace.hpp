#pragma once
// Confines the paths that file tools receive from the model to one workspace
// directory.
//
// This is a check at resolution time, not a guarantee against a concurrent
// process that swaps a directory for a symlink between the check and the use
// (a TOCTOU race). Tools run inside sandbox processes for that; this function
// keeps honest mistakes and prompt-injected paths out.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/expected.hpp>

#include <filesystem>
#include <string_view>

#include "runtime/runtime_errc.hpp"

namespace troupe {

/// Resolves `relative` (a path the model gave) against the workspace `root`
/// and returns an absolute path inside `canonical(root)`. The path need not
/// exist; its existing prefix must not leave the workspace.
///
/// Rules, in order:
/// - empty or containing NUL -> `runtime_errc::invalid_arguments`
/// - absolute, or any `..` component -> `runtime_errc::path_escape`
/// - `.` (or `./`) names the root itself
/// - each existing component is checked: a symlink must resolve to a target
///   inside the root (otherwise `runtime_errc::path_escape`, naming the path,
///   the link and the root); a dangling or looping symlink is refused as
///   `runtime_errc::path_escape` because where it leads cannot be checked
/// - the first missing component ends the walk; the rest is appended as is
/// - root missing or unreadable -> `runtime_errc::io_failed`
///
/// Every error context is one string naming the argument and the root.
[[nodiscard]] caf::expected<std::filesystem::path>
resolve_in_workspace(const std::filesystem::path& root, std::string_view relative);

} // namespace troupe
