#pragma once
// Opens files of a workspace through a directory descriptor, never through a
// path string the host resolves by name.
//
// Why: the file tools run on the host (as root) while sandboxed commands of
// other calls write the same workspace. A check by name ("is this path
// inside?") followed by a use by name (open) lets a concurrent rename swap a
// directory for a symlink to the outside between the two. Resolving every
// path beneath an open descriptor of the workspace root makes check and use
// one kernel operation.
//
// Two strategies, chosen once per process:
// - `openat2(2)` with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: the kernel
//   refuses any step that leaves the root (absolute paths, absolute
//   symlinks, `..` or symlinks climbing above it, /proc magic links) with
//   EXDEV, atomically with respect to concurrent renames. Symlinks with a
//   relative target that stays inside are followed.
// - when the kernel lacks openat2 (ENOSYS): a walk from the root one
//   component at a time with O_NOFOLLOW, refusing every symlink (EXDEV),
//   because without the kernel's help a symlink cannot be followed safely.
//
// These are thin syscall wrappers: they return a descriptor or an errno, as
// open(2) does, and the caller words the error for its own audience.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe {

/// Owns one file descriptor (or none: negative) and closes it on destruction.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {
    // nop
  }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {
    // nop
  }
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  [[nodiscard]] int get() const noexcept {
    return fd_;
  }
  [[nodiscard]] bool valid() const noexcept {
    return fd_ >= 0;
  }
  /// Gives up ownership without closing.
  [[nodiscard]] int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  /// Closes now and returns 0 or the errno: close can report a deferred
  /// write error that a durable write must not ignore.
  int close_now() noexcept;

private:
  int fd_ = -1;
};

/// How `open_beneath` resolves paths. Everything but tests uses `automatic`.
enum class beneath_mode : uint8_t {
  automatic, ///< openat2 when the kernel has it, the walk otherwise
  kernel,    ///< openat2 only (ENOSYS when the kernel lacks it)
  walk,      ///< the O_NOFOLLOW walk, as on kernels without openat2
};

/// Opens `rel` beneath the directory `dir` with open(2) `flags` (and `mode`
/// when they create). O_CLOEXEC is always added, and O_NOCTTY unless
/// `flags` has O_PATH (which allows only O_DIRECTORY and O_NOFOLLOW). `rel` must
/// already be judged by spelling (`check_workspace_spelling`): relative,
/// without `..` or NUL; "." or "" names `dir` itself.
///
/// Returns a descriptor, or a negative errno: -EXDEV when resolution would
/// leave `dir` (see the file comment), -ENOENT, -ENOTDIR, -ELOOP, -ENXIO (a
/// FIFO without a reader or a socket opened O_NONBLOCK), ... A concurrent
/// rename that makes openat2 answer EAGAIN is retried a few times.
[[nodiscard]] int open_beneath(int dir, std::string_view rel, int flags, mode_t mode = 0,
                               beneath_mode how = beneath_mode::automatic);

/// Opens (O_RDONLY | O_DIRECTORY) the directory `rel` beneath `dir`,
/// creating missing components one at a time with mkdirat (mode 0777 before
/// the umask) relative to the descriptor of their already opened parent, so
/// nothing is ever created outside `dir`. Returns a descriptor or a negative
/// errno as `open_beneath`.
[[nodiscard]] int make_dirs_beneath(int dir, std::string_view rel,
                                    beneath_mode how = beneath_mode::automatic);

/// True when this kernel implements openat2 (checked once, then cached).
[[nodiscard]] bool kernel_has_openat2();

/// What `st_mode` is, for messages: "regular file", "directory", "FIFO",
/// "socket", "character device", "block device", "symbolic link" or
/// "special file".
[[nodiscard]] const char* file_type_name(mode_t mode);

/// The components of `rel` without empty and "." ones, joined by '/'; the
/// empty string for the root itself.
[[nodiscard]] std::string normalize_relative(std::string_view rel);

} // namespace troupe
