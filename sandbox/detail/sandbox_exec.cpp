#include "sandbox/detail/sandbox_exec.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_report.hpp"
#include "sandbox/detail/seccomp_filter.hpp"

namespace troupe::detail {

namespace {

std::vector<std::string> split_path_var(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto end = value.find(':', start);
    auto part = value.substr(start, end == std::string::npos ? end : end - start);
    out.push_back(part.empty() ? "." : part); // POSIX: empty means the cwd
    if (end == std::string::npos)
      return out;
    start = end + 1;
  }
}

} // namespace

uint64_t ignored_signals() {
  uint64_t mask = 0;
  for (int s = 1; s < NSIG && s <= 64; ++s) {
    struct sigaction old{};
    if (sigaction(s, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO)
        && old.sa_handler == SIG_IGN)
      mask |= uint64_t{1} << (s - 1);
  }
  return mask;
}

exec_plan prepare_exec(const sandbox_request& req, bool drop, uint32_t uid,
                       uint64_t ignored) {
  exec_plan p;
  p.ignored_signals = ignored;
  p.arg_storage = req.argv;
  for (const auto& [key, value] : req.env)
    p.env_storage.push_back(key + "=" + value);
  for (auto& a : p.arg_storage)
    p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage)
    p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  if (req.argv.front().find('/') == std::string::npos) {
    auto path = req.env.find("PATH");
    p.search = split_path_var(path != req.env.end() ? path->second : "/usr/bin:/bin");
  }
  p.cwd = req.cwd.string();
  p.limits = req.limits;
  p.drop = drop;
  p.uid = uid;
  p.seccomp = &seccomp_program(); // built here: the child may not allocate
  return p;
}

// -- code that runs in children: system calls only ----------------------------

bool place_stdio(int in, int out, int err) {
  int src[3] = {in, out, err};
  for (int& fd : src)
    if (fd >= 0 && fd < 10) {
      fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
      if (fd < 0)
        return false;
    }
  for (int i = 0; i < 3; ++i)
    if (src[i] >= 0 && dup2(src[i], i) != i)
      return false;
  return true;
}

namespace {

bool set_limit(int resource, uint64_t soft, uint64_t hard) {
  rlimit rl{soft == 0 ? RLIM_INFINITY : soft, hard == 0 ? RLIM_INFINITY : hard};
  return setrlimit(resource, &rl) == 0;
}

// An empty session keyring of the command's own, so nothing of the caller's
// (systemd services and PAM logins run inside one) is possessed by it. The
// filter then refuses every keyring call anyway; this covers kernels or
// builds where the filter is not installed. ENOSYS: no keyring support.
bool join_empty_session_keyring() {
  constexpr long keyctl_join_session_keyring = 1; // KEYCTL_JOIN_SESSION_KEYRING
  return syscall(SYS_keyctl, keyctl_join_session_keyring, nullptr) >= 0 || errno == ENOSYS;
}

[[noreturn]] void setup_exit(int rfd, stage where) {
  send_report(rfd, report_kind::setup_failed, where, -1, errno);
  _exit(125);
}

} // namespace

[[noreturn]] void exec_command(exec_plan& p) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Ignored signals survive exec (handlers do not); the caller may ignore
  // SIGPIPE, which would change how pipelines in the command end.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s <= 64; ++s)
    if (p.ignored_signals & (uint64_t{1} << (s - 1)))
      sigaction(s, &dfl, nullptr);
  int rfd = p.report_fd;
  if (!place_stdio(p.in_fd, p.out_fd, p.err_fd))
    setup_exit(rfd, stage::place_fds);
  // Nothing else of ours reaches the command; the report fd stays usable
  // until exec succeeds.
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  setsid();
  if (chdir(p.cwd.c_str()) != 0)
    setup_exit(rfd, stage::chdir_cwd);
  const auto& l = p.limits;
  uint64_t cpu = l.cpu_seconds;
  if (!set_limit(RLIMIT_CPU, cpu, cpu == 0 ? 0 : cpu + 1)
      || !set_limit(RLIMIT_AS, l.address_space_bytes, l.address_space_bytes)
      || !set_limit(RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes)
      || !set_limit(RLIMIT_NOFILE, l.open_files, l.open_files)
      || !set_limit(RLIMIT_NPROC, l.processes, l.processes))
    setup_exit(rfd, stage::set_rlimit);
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (p.drop) {
    // Leaving uid 0 for a non-zero uid clears every capability. Raw system
    // calls: glibc's wrappers first signal every thread the process had
    // (setxid broadcast), and a copy of a multi-threaded caller believes it
    // still has them; it can block forever on a thread that was starting.
    gid_t g = p.uid;
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, g, g, g) != 0
        || syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
      setup_exit(rfd, stage::drop_uid);
  }
  if (p.drop && !join_empty_session_keyring())
    setup_exit(rfd, stage::session_keyring);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    setup_exit(rfd, stage::no_new_privs);
  if (p.drop && !install_seccomp_filter(*p.seccomp))
    setup_exit(rfd, stage::seccomp_filter);
  if (!p.probe_file.empty()) {
    int fd = open(p.probe_file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || (p.drop && getuid() != p.uid))
      setup_exit(rfd, stage::probe_write);
    close(fd);
    unlink(p.probe_file.c_str());
    _exit(0);
  }
  int err = ENOENT;
  if (p.search.empty()) {
    execve(p.argv[0], p.argv.data(), p.envp.data());
    err = errno;
  } else {
    bool denied = false;
    for (const auto& dir : p.search) {
      char path[4096];
      size_t dl = dir.size();
      size_t nl = std::strlen(p.argv[0]);
      if (dl + nl + 2 > sizeof path)
        continue;
      std::memcpy(path, dir.data(), dl);
      path[dl] = '/';
      std::memcpy(path + dl + 1, p.argv[0], nl + 1);
      execve(path, p.argv.data(), p.envp.data());
      if (errno == EACCES)
        denied = true;
      else if (errno != ENOENT && errno != ENOTDIR)
        err = errno;
    }
    if (denied && err == ENOENT)
      err = EACCES;
  }
  send_report(rfd, report_kind::exec_failed, stage::none, -1, err);
  _exit(err == ENOENT ? 127 : 126);
}

namespace {

int command_entry(void* plan) {
  exec_command(*static_cast<exec_plan*>(plan));
}

} // namespace

// Starts the command in a child that shares our memory until it execs
// (CLONE_VM | CLONE_VFORK): no page tables to copy, which is most of what a
// fork costs here. We resume once the child has exec'd or exited.
pid_t spawn_command(exec_plan& p) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizers cannot follow a child onto a stack of ours (they report its
  // first noreturn call as an overflow); a plain fork is slower but clean.
  pid_t pid = raw_clone(0);
  if (pid == 0)
    exec_command(p);
  return pid;
#endif
  // Only single-threaded processes get here (a cold sandbox's init, a pool
  // worker), and each waits for its child, so one stack per process does.
  // mmap rather than a global array: sanitizers instrument globals and
  // report the child's frames on it as overflows.
  constexpr size_t stack_size = 256 * 1024;
  static void* stack = MAP_FAILED;
  if (stack == MAP_FAILED)
    stack = mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return -1;
  return clone(command_entry, static_cast<char*>(stack) + stack_size,
               CLONE_VM | CLONE_VFORK | SIGCHLD, &p);
}

} // namespace troupe::detail
