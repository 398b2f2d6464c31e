#include "test/support/run_command.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace troupe::test {

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv)
    out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

int wait_pid(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return decode_status(status);
}

/// One read from a readable `fd` (never blocks after poll said so); returns
/// false at EOF or on an error.
bool drain(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return false;
  }
}

// Spawns `argv` with fd 1 (and fd 2 when `err_fd` >= 0) redirected.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (err_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  auto args = c_argv(argv);
  pid_t pid = -1;
  auto rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(),
                          environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

} // namespace

command_result run_command(const std::vector<std::string>& argv) {
  command_result result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return result;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  auto pid = spawn(argv, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  // Read both pipes together: a child that fills one while we block on the
  // other would otherwise deadlock.
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = pid < 0 ? 0 : 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      if (!drain(fds[i].fd, *sinks[i])) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  if (pid >= 0)
    result.exit_code = wait_pid(pid);
  return result;
}

child_process spawn_with_stdout(const std::vector<std::string>& argv) {
  child_process child;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return child;
  child.pid = spawn(argv, out[1], -1);
  ::close(out[1]);
  if (child.pid < 0) {
    ::close(out[0]);
    return child;
  }
  child.out_fd = out[0];
  return child;
}

void read_until(child_process& child,
                std::chrono::steady_clock::time_point deadline,
                std::string& out) {
  using namespace std::chrono;
  while (child.out_fd >= 0) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0)
      return;
    pollfd fd{child.out_fd, POLLIN, 0};
    auto n = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    if (!drain(child.out_fd, out)) {
      ::close(child.out_fd);
      child.out_fd = -1;
    }
  }
}

void read_to_end(child_process& child, std::string& out) {
  while (child.out_fd >= 0) {
    pollfd fd{child.out_fd, POLLIN, 0};
    if (::poll(&fd, 1, -1) < 0 && errno == EINTR)
      continue;
    if (!drain(child.out_fd, out)) {
      ::close(child.out_fd);
      child.out_fd = -1;
    }
  }
}

int wait_for(child_process& child) {
  if (child.pid < 0)
    return -1;
  auto rc = wait_pid(child.pid);
  child.pid = -1;
  return rc;
}

} // namespace troupe::test
