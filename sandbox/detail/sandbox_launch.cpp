#include "sandbox/detail/sandbox_launch.hpp"

#include <cerrno>
#include <csignal>
#include <utility>

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_report.hpp"

// Process structure of a sandbox:
//
//   caller thread ── clone(new pid/mnt/ipc/uts[/net] ns) ──> init (pid 1)
//                                                  builds the root
//                                                  clone(CLONE_VM|CLONE_VFORK)
//                                                    └──> command (execve)
//
// The init reports through a pipe (fd 3 inside) as fixed-size records: a
// setup step that failed (stage, step, errno), an exec that failed (errno,
// written by the command child before _exit), and finally the command's
// wait status. When the command exits the init exits too, and the kernel
// kills whatever else the sandbox left in the pid namespace. Killing the
// init has the same effect.
//
// TODO(perf): the init is a copy-on-write copy of the caller. For a
// long-lived sandbox it keeps the caller's pages as they were at the clone,
// which costs memory as the caller later writes them.

namespace troupe::detail {

namespace {

struct init_args {
  root_plan* root = nullptr; // null: no isolation
  exec_plan* exec = nullptr;
  int in_r, out_w, err_w, report_w;
};

// The init of a sandbox (or, without isolation, the command itself).
[[noreturn]] void sandbox_init(init_args& a) {
  // Fixed places: stdio on 0..2 for the command, reports on 3.
  int report = fcntl(a.report_w, F_DUPFD_CLOEXEC, 10);
  if (report < 0 || !place_stdio(a.in_r, a.out_w, a.err_w) || dup2(report, 3) != 3)
    _exit(125);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  syscall(SYS_close_range, 4u, ~0u, 0u);
  auto& ex = *a.exec;
  ex.report_fd = 3;
  // The caller's thread waits for us; if it dies, so does the sandbox.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (a.root == nullptr)
    exec_command(ex);
  prctl(PR_SET_DUMPABLE, 0); // the caller's memory (other secrets) stays unreadable
  // The caller may ignore SIGCHLD, which would make waitpid fail here.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, nullptr);
  if (!build_root(*a.root, 3))
    _exit(1);
  pid_t cmd = spawn_command(ex);
  if (cmd < 0) {
    send_report(3, report_kind::setup_failed, stage::fork_command, -1, errno);
    _exit(1);
  }
  close(0);
  close(1);
  close(2);
  int status = 0;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    if (w == cmd) {
      status = st;
      break;
    }
    if (w < 0 && errno != EINTR) {
      status = W_EXITCODE(125, 0);
      break;
    }
  }
  send_report(3, report_kind::exited, stage::none, -1, 0, status);
  _exit(0); // the kernel now kills whatever the command left behind
}

} // namespace

caf::expected<launched_sandbox>
launch_sandbox(const sandbox_request& req, bool isolate, const std::string& probe_file) {
  launched_sandbox out;
  out.isolated = isolate;
  uint32_t uid = sandbox_uid_base + static_cast<uint32_t>(gettid());
  if (isolate) {
    auto plan = prepare_root(req.writable_roots, req.read_only_roots, req.limits, uid);
    if (!plan)
      return std::move(plan.error());
    out.root = std::move(*plan);
  }
  out.exec = prepare_exec(req, isolate, uid, ignored_signals());
  out.exec.probe_file = probe_file;
  pipe_pair in, o, e, rep;
  if (!make_pipe(in) || !make_pipe(o) || !make_pipe(e) || !make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: creating pipes for '" + req.argv.front()
                           + "': " + errno_text(errno));
  init_args args{isolate ? &out.root : nullptr, &out.exec, in.r, o.w, e.w, rep.w};
  out.started = clock_type::now();
  pid_t child = raw_clone(isolate ? namespace_flags(req.network) : 0);
  if (child == 0)
    sandbox_init(args);
  if (child < 0)
    return sandbox_error(isolate && (errno == EPERM || errno == EINVAL)
                           ? sandbox_errc::unavailable
                           : sandbox_errc::spawn_failed,
                         "sandbox: clone for '" + req.argv.front()
                           + "': " + errno_text(errno));
  out.pid = child;
  out.in_w = unique_fd{std::exchange(in.w, -1)};
  out.out_r = unique_fd{std::exchange(o.r, -1)};
  out.err_r = unique_fd{std::exchange(e.r, -1)};
  out.report_r = unique_fd{std::exchange(rep.r, -1)};
  return out; // the pipe_pairs close the child's ends
}

} // namespace troupe::detail
