#include "core/workspace_fd.hpp"

#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
// The same number on every architecture since Linux 5.6 (unified table).
#  define SYS_openat2 437
#endif

namespace troupe {

namespace {

// A concurrent rename anywhere on the system makes openat2 with
// RESOLVE_BENEATH answer EAGAIN when the path has `..` steps (from
// symlinks); the kernel asks the caller to retry. A bound keeps a hostile
// rename loop from spinning us forever; the caller reports the errno.
constexpr int max_openat2_attempts = 32;

std::vector<std::string_view> components(std::string_view rel) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  while (begin <= rel.size()) {
    auto end = rel.find('/', begin);
    if (end == std::string_view::npos)
      end = rel.size();
    auto part = rel.substr(begin, end - begin);
    if (!part.empty() && part != ".")
      out.push_back(part);
    begin = end + 1;
  }
  return out;
}

long raw_openat2(int dir, const char* path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  // openat2 rejects a mode without O_CREAT (EINVAL), unlike openat.
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, dir, path, &how, sizeof how);
}

int open_kernel(int dir, const std::string& rel, int flags, mode_t mode) {
  const char* path = rel.empty() ? "." : rel.c_str();
  for (int attempt = 1;; ++attempt) {
    long fd = raw_openat2(dir, path, flags, mode);
    if (fd >= 0)
      return static_cast<int>(fd);
    int err = errno;
    if ((err == EAGAIN || err == EINTR) && attempt < max_openat2_attempts)
      continue;
    return -err;
  }
}

bool is_symlink_at(int dir, std::string_view name) {
  struct stat st{};
  return ::fstatat(dir, std::string{name}.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0
         && S_ISLNK(st.st_mode);
}

int openat_retrying(int dir, const std::string& name, int flags, mode_t mode) {
  for (;;) {
    int fd = ::openat(dir, name.c_str(), flags, mode);
    if (fd >= 0 || errno != EINTR)
      return fd;
  }
}

// The fallback: each directory is opened relative to the one before with
// O_NOFOLLOW, so a symlink swapped in at any moment is met as a symlink and
// refused; a directory descriptor, once open, stays inside the workspace
// whatever is renamed later.
int open_walk(int dir, const std::vector<std::string_view>& parts, int flags, mode_t mode) {
  if (parts.empty()) {
    int fd = openat_retrying(dir, ".", flags, mode);
    return fd >= 0 ? fd : -errno;
  }
  unique_fd cur;
  int at = dir;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = openat_retrying(at, std::string{parts[i]},
                             O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
      int err = errno;
      return is_symlink_at(at, parts[i]) ? -EXDEV : -err;
    }
    cur = unique_fd{fd};
    at = cur.get();
  }
  auto last = std::string{parts.back()};
  unique_fd fd{openat_retrying(at, last, flags | O_NOFOLLOW, mode)};
  if (!fd.valid()) {
    int err = errno;
    return is_symlink_at(at, last) ? -EXDEV : -err;
  }
  // O_PATH | O_NOFOLLOW opens a symlink itself instead of failing.
  if ((flags & O_PATH) != 0) {
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0)
      return -errno;
    if (S_ISLNK(st.st_mode))
      return -EXDEV;
  }
  return fd.release();
}

std::string join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (auto part : parts) {
    if (!out.empty())
      out += '/';
    out += part;
  }
  return out;
}

bool use_kernel(beneath_mode how) {
  return how == beneath_mode::kernel
         || (how == beneath_mode::automatic && kernel_has_openat2());
}

} // namespace

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0)
    ::close(fd_);
}

int unique_fd::close_now() noexcept {
  if (fd_ < 0)
    return 0;
  int rc = ::close(fd_);
  fd_ = -1;
  return rc == 0 ? 0 : errno;
}

bool kernel_has_openat2() {
  static const bool has = [] {
    long fd = raw_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      return true;
    }
    // Some container runtimes' seccomp profiles answer EPERM for system
    // calls they do not know; for "/" with O_PATH nothing else can.
    return errno != ENOSYS && errno != EPERM;
  }();
  return has;
}

int open_beneath(int dir, std::string_view rel, int flags, mode_t mode, beneath_mode how) {
  // openat2 refuses O_PATH with any flag but O_CLOEXEC, O_DIRECTORY and
  // O_NOFOLLOW (EINVAL); an O_PATH descriptor cannot be a terminal anyway.
  flags |= O_CLOEXEC | ((flags & O_PATH) != 0 ? 0 : O_NOCTTY);
  auto parts = components(rel);
  if (use_kernel(how))
    return open_kernel(dir, join(parts), flags, mode);
  return open_walk(dir, parts, flags, mode);
}

int make_dirs_beneath(int dir, std::string_view rel, beneath_mode how) {
  constexpr int dir_flags = O_RDONLY | O_DIRECTORY;
  auto parts = components(rel);
  int whole = open_beneath(dir, join(parts), dir_flags, 0, how);
  if (whole != -ENOENT)
    return whole;
  unique_fd parent{open_beneath(dir, "", dir_flags, 0, how)};
  if (!parent.valid())
    return parent.get();
  std::string prefix;
  for (auto part : parts) {
    prefix += prefix.empty() ? "" : "/";
    prefix += part;
    int next = open_beneath(dir, prefix, dir_flags, 0, how);
    if (next == -ENOENT) {
      // mkdirat gets one plain name relative to a descriptor resolved
      // beneath `dir`: it cannot follow anything. EEXIST means another
      // writer was first; the reopen below decides what is there now.
      if (::mkdirat(parent.get(), std::string{part}.c_str(), 0777) != 0 && errno != EEXIST)
        return -errno;
      next = open_beneath(dir, prefix, dir_flags, 0, how);
    }
    if (next < 0)
      return next;
    parent = unique_fd{next};
  }
  return parent.release();
}

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode))
    return "regular file";
  if (S_ISDIR(mode))
    return "directory";
  if (S_ISFIFO(mode))
    return "FIFO";
  if (S_ISSOCK(mode))
    return "socket";
  if (S_ISCHR(mode))
    return "character device";
  if (S_ISBLK(mode))
    return "block device";
  if (S_ISLNK(mode))
    return "symbolic link";
  return "special file";
}

std::string normalize_relative(std::string_view rel) {
  return join(components(rel));
}

} // namespace troupe
