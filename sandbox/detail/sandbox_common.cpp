#include "sandbox/detail/sandbox_common.hpp"

#include <cerrno>
#include <csignal>
#include <system_error>

#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace troupe::detail {

caf::error sandbox_error(sandbox_errc code, std::string msg) {
  return caf::make_error(code, std::move(msg));
}

std::string errno_text(int err) {
  return std::error_code{err, std::generic_category()}.message();
}

uint64_t micros_since(clock_type::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0)
      .count());
}

// fork() without glibc's atfork handlers: the cold path forks from a
// multi-threaded caller, where those handlers (and malloc) may find locks
// held by threads that do not exist in the child.
pid_t raw_clone(unsigned long flags) {
  return static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr,
                                    nullptr, 0));
}

unsigned long namespace_flags(bool network) {
  return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
         | (network ? 0 : CLONE_NEWNET);
}

void close_fd(int& fd) {
  if (fd >= 0)
    close(fd);
  fd = -1;
}

bool make_pipe(pipe_pair& p) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return false;
  p.r = fds[0];
  p.w = fds[1];
  return true;
}

} // namespace troupe::detail
