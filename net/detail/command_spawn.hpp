#pragma once
// Starting a command model's child: its pipes, posix_spawnp with a group of
// its own and clean signal state, and SIGPIPE kept off the writing thread.
// Internal to net/command_process.

#include <csignal>
#include <string>
#include <vector>

#include <sys/types.h>

namespace troupe::net::detail {

void close_fd(int& fd);

/// The text of an errno value (thread-safe).
[[nodiscard]] std::string errno_text(int err);

/// The three pipes of a child; every end close-on-exec, so a program another
/// thread starts meanwhile inherits none of them. The parent's ends
/// (in_w, out_r, err_r) are non-blocking.
struct child_pipes {
  int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;

  /// 0, or the errno value of the pipe that could not be made.
  [[nodiscard]] int open();
  void close_child_ends();
  ~child_pipes();
};

/// Starts `argv` on the pipes `p` (stdin, stdout, stderr; nothing else is
/// inherited) in a new process group led by the child, with an empty signal
/// mask, default dispositions and the environment plus `env` ("NAME=value"
/// entries replace inherited ones). Returns 0 (and `pid`) or an errno value;
/// a failed exec is reported here, not by the child.
[[nodiscard]] int spawn_child(const std::vector<std::string>& argv,
                              const std::vector<std::string>& env, const child_pipes& p,
                              pid_t& pid);

/// Blocks SIGPIPE for the calling thread while it writes to a program that
/// may have exited (the write then fails with EPIPE), and takes back one
/// that became pending meanwhile.
class sigpipe_guard {
public:
  sigpipe_guard();
  ~sigpipe_guard();
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
  sigset_t old_;
};

} // namespace troupe::net::detail
