#pragma once
// The filesystem a sandbox sees (see sandbox/sandbox_process.hpp): a tmpfs
// root holding read-only binds of the system directories, a fresh /proc, a
// minimal /dev, a private /tmp, the request's read-only roots as read-only
// binds, and the writable roots as idmapped mounts.
//
// `prepare_root` plans it in the caller (it allocates); `build_root` builds
// it in a child alone in fresh mount and pid namespaces, with system calls
// only, and reports the step that failed.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"

namespace troupe::detail {

// -- plans: everything a child needs, prepared before the fork ---------------

struct root_step {
  enum class kind : uint8_t { proc, bind_ro, bind_dev, bind_rw, symlink, tmpfs };
  kind what = kind::tmpfs;
  std::string source; // host path to bind, or a symlink's target
  std::string target; // path inside the sandbox
  std::string staged; // where the target is while the root is built
  std::string data;   // tmpfs options
  unsigned long flags = 0;
  std::vector<std::string> mkdirs; // staged directories to create first
  bool file_target = false;        // a file bind: the mount point is a file
  uid_t owner_uid = 0;             // bind_rw: on-disk owner shown as the sandbox uid
  gid_t owner_gid = 0;
  int fd = -1;        // set by the child
  int userns_fd = -1; // set by the child
};

struct root_plan {
  std::string staging; // host directory the new root is mounted on
  std::string proc_staged;
  std::vector<root_step> steps;
  uint32_t uid = 0;
};

/// The directories from the first component of `target` down to its parent
/// (or to itself with `include_self`), with `prefix` put in front.
[[nodiscard]] std::vector<std::string>
dirs_down_to(const std::string& prefix, const std::filesystem::path& target,
             bool include_self);

/// Whether `p` (canonical) lies in a system directory every sandbox binds
/// read-only: /usr, /bin, /sbin, /lib, /lib32, /lib64, /libx32, /etc.
[[nodiscard]] bool in_system_dirs(const std::filesystem::path& p);

/// Plans the root for the writable `roots` and the `read_only` roots (both
/// normalized), a /tmp of `limits.tmp_bytes`, and `uid` as the owner the
/// writable roots show. Read-only roots are bound read-only, nosuid and
/// nodev at their paths (a file root as a file).
/// Errors: `unavailable` (no host /tmp to stage on), `invalid_request` (a
/// root cannot be stat'ed).
[[nodiscard]] caf::expected<root_plan>
prepare_root(const std::vector<std::filesystem::path>& roots,
             const std::vector<std::filesystem::path>& read_only,
             const sandbox_limits& limits, uint32_t uid);

/// Creates `dirs` (0755) in order; existing ones are fine. False with errno
/// set on failure. Async-signal-safe.
[[nodiscard]] bool make_dirs(const std::vector<std::string>& dirs);

/// Builds the root described by `plan` and makes it the root of the calling
/// process, which must be alone in fresh mount and pid namespaces. On
/// failure, reports the step on `rfd` and returns false. System calls only.
[[nodiscard]] bool build_root(root_plan& plan, int rfd);

} // namespace troupe::detail
