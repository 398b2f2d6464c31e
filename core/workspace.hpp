#pragma once
// Confines the paths that tools receive from the model to one workspace
// directory.
//
// `check_workspace_spelling` is the one rule on how a path may be spelled;
// the scope boundary, policy globs and every tool judge paths by it.
// `resolve_in_workspace` then resolves by name: a check at resolution time,
// not a guarantee against a concurrent process that swaps a directory for a
// symlink between the check and the use (a TOCTOU race). Host-side file
// tools therefore open paths beneath a descriptor of the root instead
// (`open_workspace_root` here, then runtime/workspace_fd.hpp); a sandboxed
// process tool may use a resolved path, because inside its sandbox the
// outside is not mounted.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/expected.hpp>

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/runtime_errc.hpp"
#include "core/workspace_fd.hpp"

namespace troupe {

/// What is wrong with the spelling of a workspace-relative path, if anything.
enum class spelling_fault : uint8_t {
  none,
  empty,    ///< "" (the root is ".")
  nul,      ///< contains a NUL character
  absolute, ///< starts with '/'
  dot_dot,  ///< has a `..` component, even one that would stay inside
};

/// The containment rule, by spelling alone: true when `path` is absolute or
/// has a `..` component (even `a/../b`, which would stay inside), so it can
/// leave the workspace. Components are separated by '/', so "a..b" and "..x"
/// are ordinary names. The one copy of the rule: the scope boundary
/// (`scope_violation`), path policy globs (`check_glob`) and every tool
/// (`spelling_fault_of`) judge containment with it.
[[nodiscard]] bool leaves_workspace(std::string_view path) noexcept;

/// Judges `path` by its text alone, without touching the disk: empty, then
/// NUL, then `leaves_workspace` (absolute before `..`).
[[nodiscard]] spelling_fault spelling_fault_of(std::string_view path) noexcept;

/// `spelling_fault_of` as an error for the model: `invalid_arguments` for an
/// empty path or one with NUL, `path_escape` for an absolute one or one with
/// `..`; the context names the path and `root`. No error when it is fine.
[[nodiscard]] caf::error check_workspace_spelling(const std::filesystem::path& root,
                                                  std::string_view relative);

/// Opens the workspace root as a directory descriptor (O_RDONLY |
/// O_DIRECTORY). The root is configuration, not model input, so a symlink
/// naming it is followed. Errors: `runtime_errc::io_failed`, naming the root.
[[nodiscard]] caf::expected<unique_fd> open_workspace_root(const std::filesystem::path& root);

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
