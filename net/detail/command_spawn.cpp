#include "net/detail/command_spawn.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <unistd.h>

extern char** environ;

namespace troupe::net::detail {

namespace {

std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
  auto name_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv{*e};
    bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return name_of(x) == name_of(kv);
    });
    if (!replaced)
      out.emplace_back(kv);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

} // namespace

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

std::string errno_text(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf); // the GNU variant returns the text
}

int child_pipes::open() {
  int a[2], b[2], c[2];
  if (pipe2(a, O_CLOEXEC) != 0)
    return errno;
  in_r = a[0], in_w = a[1];
  if (pipe2(b, O_CLOEXEC) != 0)
    return errno;
  out_r = b[0], out_w = b[1];
  if (pipe2(c, O_CLOEXEC) != 0)
    return errno;
  err_r = c[0], err_w = c[1];
  for (int fd : {in_w, out_r, err_r})
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return 0;
}

void child_pipes::close_child_ends() {
  close_fd(in_r);
  close_fd(out_w);
  close_fd(err_w);
}

child_pipes::~child_pipes() {
  for (int* fd : {&in_r, &in_w, &out_r, &out_w, &err_r, &err_w})
    close_fd(*fd);
}

// posix_spawnp: thread-safe (glibc clones with CLONE_VFORK) and reports a
// failed exec as its return value.
int spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                const child_pipes& p, pid_t& pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, p.in_r, 0);
  posix_spawn_file_actions_adddup2(&fa, p.out_w, 1);
  posix_spawn_file_actions_adddup2(&fa, p.err_w, 2);
  // Descriptors other libraries opened without O_CLOEXEC stay here too.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0); // a group of its own, led by the child
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  // Ignored signals (SIGPIPE, often) would stay ignored across exec.
  posix_spawnattr_setsigdefault(&attr, &all);
  auto args = argv;
  auto envs = merged_env(env);
  auto argp = pointers(args);
  auto envp = pointers(envs);
  int rc = posix_spawnp(&pid, argp[0], &fa, &attr, argp.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

sigpipe_guard::sigpipe_guard() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

sigpipe_guard::~sigpipe_guard() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

} // namespace troupe::net::detail
