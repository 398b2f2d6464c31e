#pragma once
// Which host paths a server installed with npm or pip needs to see inside a
// sandbox (`sandbox_request::read_only_roots`), guessed from its argv.

#include <filesystem>
#include <string>
#include <vector>

namespace troupe {

/// The read-only roots that let `argv` start in a sandbox:
///
/// - argv[0] is looked up in `path_env` (a PATH value; relative and empty
///   entries are skipped, since the sandbox's working directory is not the
///   caller's) when it has no '/'; every other element counts when it is an
///   absolute path to an existing regular file. A relative path with a '/'
///   is skipped. Each is then resolved with symlinks followed
///   (node_modules/.bin/x links into its package).
/// - For each resolved file, the root is: the path up to and including its
///   outermost `node_modules` component, if it has one (the package and
///   everything it may require); else the nearest ancestor holding
///   `pyvenv.cfg` (a Python virtual environment); else the file's directory
///   (the file itself when that is /).
/// - Roots every sandbox shows anyway (in /usr, /bin, /sbin, /lib*, /etc) or
///   may not get (/, /proc, /sys, /dev) are dropped, and so are duplicates
///   and roots inside others. The result is sorted.
///
/// Not found: an interpreter named by a script's `#!` line outside the
/// system directories, files named inside an argument (`--config=/x`), and
/// whatever the server opens at run time. Never fails: what cannot be
/// resolved is left out.
[[nodiscard]] std::vector<std::filesystem::path>
default_read_only_roots(const std::vector<std::string>& argv, const std::string& path_env);

} // namespace troupe
