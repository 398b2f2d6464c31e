#include "sandbox/detail/cold_sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <functional>
#include <utility>

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_exec.hpp"
#include "sandbox/detail/sandbox_pump.hpp"
#include "sandbox/detail/sandbox_root.hpp"

// Process structure of a cold call:
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
// kills whatever else the call left in the pid namespace. The caller kills
// the init on timeout, which has the same effect.

namespace troupe::detail {

namespace {

struct cold_child_args {
  root_plan* root = nullptr; // null: no isolation
  exec_plan* exec = nullptr;
  int in_r, out_w, err_w, report_w;
};

// The init of a cold sandbox (or, without isolation, the command itself).
[[noreturn]] void cold_child(cold_child_args& a) {
  // Fixed places: stdio on 0..2 for the command, reports on 3.
  int report = fcntl(a.report_w, F_DUPFD_CLOEXEC, 10);
  if (report < 0 || !place_stdio(a.in_r, a.out_w, a.err_w) || dup2(report, 3) != 3)
    _exit(125);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  syscall(SYS_close_range, 4u, ~0u, 0u);
  auto& ex = *a.exec;
  ex.report_fd = 3;
  // The caller's thread waits for us; if it dies, so does the call.
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

caf::expected<sandbox_result> run_cold(const sandbox_request& req, bool isolate,
                                       const std::string& probe_file,
                                       stage* failed) {
  uint32_t uid = sandbox_uid_base + static_cast<uint32_t>(gettid());
  root_plan root;
  if (isolate) {
    auto plan = prepare_root(req.writable_roots, req.limits, uid);
    if (!plan)
      return std::move(plan.error());
    root = std::move(*plan);
  }
  auto ex = prepare_exec(req, isolate, uid, false, ignored_signals());
  ex.probe_file = probe_file;
  pipe_pair in, out, err, rep;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err) || !make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: creating pipes for '" + req.argv.front()
                           + "': " + errno_text(errno));
  sigpipe_guard no_sigpipe;
  cold_child_args args{isolate ? &root : nullptr, &ex, in.r, out.w, err.w, rep.w};
  auto t0 = clock_type::now();
  pid_t child = raw_clone(isolate ? namespace_flags(req.network) : 0);
  if (child == 0)
    cold_child(args);
  if (child < 0)
    return sandbox_error(isolate && (errno == EPERM || errno == EINVAL)
                           ? sandbox_errc::unavailable
                           : sandbox_errc::spawn_failed,
                         "sandbox: clone for '" + req.argv.front()
                           + "': " + errno_text(errno));
  close_fd(in.r);
  close_fd(out.w);
  close_fd(err.w);
  close_fd(rep.w);
  pump_io io;
  io.in_w = std::exchange(in.w, -1);
  io.out_r = std::exchange(out.r, -1);
  io.err_r = std::exchange(err.r, -1);
  io.report_r = std::exchange(rep.r, -1);
  std::function<void()> kill_all;
  if (isolate) {
    // Killing the init kills its pid namespace: every process of the call.
    kill_all = [child] { kill(child, SIGKILL); };
  } else {
    io.anchor = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
    kill_all = [child] {
      kill(-child, SIGKILL);
      kill(child, SIGKILL);
    };
  }
  auto pr = pump(io, req.stdin_data, req.limits.output_cap_bytes,
                 req.limits.wall_timeout_ms, kill_all);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  auto res = make_result(pr, !isolate, status, isolate ? &root : nullptr, ex,
                         req.limits.output_cap_bytes, failed);
  if (res) {
    res->wall_us = micros_since(t0);
    res->isolation = isolate ? "namespaces" : "none";
  }
  return res;
}

} // namespace troupe::detail
