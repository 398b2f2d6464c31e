#pragma once
// What every piece of a sandbox (sandbox/sandbox_process.hpp) shares: the
// uid base, errors that name errno, the clock, a fork without glibc, the
// namespaces a sandbox gets, and fds and pipes that close themselves.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <sys/types.h>

#include <caf/error.hpp>

#include "sandbox/sandbox_process.hpp"

namespace troupe::detail {

/// The base of the uids sandboxes run commands as; a sandbox adds a host
/// thread or process id (< 2^22). systemd leaves 0x70000000-0x7ffdffff
/// unassigned.
inline constexpr uint32_t sandbox_uid_base = 0x70000000u;

using clock_type = std::chrono::steady_clock;

[[nodiscard]] caf::error sandbox_error(sandbox_errc code, std::string msg);

/// The text of an errno value ("No such file or directory").
[[nodiscard]] std::string errno_text(int err);

[[nodiscard]] uint64_t micros_since(clock_type::time_point t0);

/// fork() (plus `flags`, SIGCHLD implied) as a raw system call: see the
/// definition for why.
pid_t raw_clone(unsigned long flags);

/// The namespaces of a sandbox: new pid, mount, ipc and uts namespaces, and
/// a new network namespace unless the sandbox keeps the network.
[[nodiscard]] unsigned long namespace_flags(bool network);

/// Closes `fd` when it is open and sets it to -1.
void close_fd(int& fd);

/// One owned file descriptor (-1: none), closed with the object.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      close_fd(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { close_fd(fd_); }

  [[nodiscard]] int get() const { return fd_; }
  /// Gives up ownership: the caller closes the returned fd.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  void reset() { close_fd(fd_); }

private:
  int fd_ = -1;
};

/// A pipe whose ends close with it (an end set to -1 is not closed).
struct pipe_pair {
  int r = -1;
  int w = -1;
  ~pipe_pair() {
    close_fd(r);
    close_fd(w);
  }
};

/// Opens `p` as a close-on-exec pipe; false (errno set) on failure.
[[nodiscard]] bool make_pipe(pipe_pair& p);

} // namespace troupe::detail
