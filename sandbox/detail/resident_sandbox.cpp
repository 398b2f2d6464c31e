#include "sandbox/detail/resident_sandbox.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <functional>
#include <utility>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_exec.hpp"
#include "sandbox/detail/sandbox_pump.hpp"
#include "sandbox/detail/sandbox_report.hpp"
#include "sandbox/detail/sandbox_request.hpp"
#include "sandbox/detail/sandbox_root.hpp"

// A pool worker (resident_sandbox) is the init of a long-lived sandbox: it
// starts one command child per call; after each call it kills every other
// process of its pid namespace with kill(-1, SIGKILL), which pid 1 may do,
// and once the reply is out replaces /tmp with an empty tmpfs and itself
// enters a new IPC namespace for the next command to inherit. Creating an
// IPC namespace costs ~30-60 us (a mqueue superblock, sysctl tables), which
// the command's start no longer pays; the worker itself never uses SysV IPC
// or message queues, so sharing the namespace with one call's command gives
// that command nothing.

namespace troupe::detail {

namespace fs = std::filesystem;

caf::expected<resident_sandbox>
resident_sandbox::enter(bool network, const std::vector<fs::path>& roots, uint32_t uid,
                        int keep_fd) {
  auto normalized = normalize_roots(roots);
  if (!normalized)
    return std::move(normalized.error());
  auto plan = prepare_root(*normalized, {}, sandbox_limits{}, uid);
  if (!plan)
    return std::move(plan.error());
  pipe_pair rep;
  if (!make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: pipe: " + errno_text(errno));
  if (unshare(namespace_flags(network)) != 0)
    return sandbox_error(sandbox_errc::unavailable,
                         "sandbox worker: unshare(pid, mount, ipc, uts"
                           + std::string{network ? "" : ", net"}
                           + " namespaces): " + errno_text(errno));
  pid_t child = fork();
  if (child < 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: fork: " + errno_text(errno));
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close_fd(rep.r);
    if (!build_root(*plan, rep.w))
      _exit(1);
    resident_sandbox sb;
    sb.network = network;
    sb.roots = std::move(*normalized);
    sb.uid = uid;
    sb.tmp_bytes_ = sandbox_limits{}.tmp_bytes;
    sb.ignored_signals_ = ignored_signals();
    // reset_tmp re-attaches the roots that live below /tmp from clones
    // taken now (they keep the idmapping).
    for (const auto& root : sb.roots) {
      auto rel = root.lexically_relative("/tmp");
      if (rel.empty() || *rel.begin() == "..")
        continue;
      int fd = open_tree(AT_FDCWD, root.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (fd < 0) {
        fail(rep.w, stage::clone_tree);
        _exit(1);
      }
      sb.tmp_roots_.push_back({root.string(), dirs_down_to("", root, true), fd});
    }
    return sb; // rep's destructor closes the write end: the parent sees EOF
  }
  close_fd(rep.w);
  std::string bytes;
  uint64_t ignored = 0;
  while (rep.r >= 0)
    drain(rep.r, &bytes, &ignored, 1 << 16);
  for (const auto& r : parse_reports(bytes))
    if (r.kind == report_kind::setup_failed) {
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
      return sandbox_error(sandbox_errc::spawn_failed, describe_setup_failure(r, &*plan));
    }
  close(keep_fd); // only the sandbox holds the pool's socket now
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

caf::error resident_sandbox::reset() {
  if (auto err = reset_tmp())
    return err;
  // Every process of the finished call is dead (run reaped them all), so
  // the namespace we leave goes away with its objects.
  if (unshare(CLONE_NEWIPC) != 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: entering a new IPC namespace: "
                           + errno_text(errno));
  return caf::none;
}

caf::error resident_sandbox::reset_tmp() {
  auto data = "mode=1777,size=" + std::to_string(std::max<uint64_t>(tmp_bytes_, 4096));
  // Detaching /tmp takes the roots mounted below it along; the old tmpfs
  // goes away with its last user, and every process of the call is dead.
  if (umount2("/tmp", MNT_DETACH) != 0
      || mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: replacing /tmp: " + errno_text(errno));
  for (const auto& r : tmp_roots_) {
    if (!make_dirs(r.mkdirs))
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: mount point for " + r.path + ": "
                             + errno_text(errno));
    int fd = open_tree(r.fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    bool ok = fd >= 0
              && move_mount(fd, "", AT_FDCWD, r.path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
    int saved = errno;
    if (fd >= 0)
      close(fd);
    if (!ok)
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: re-attaching " + r.path + ": "
                             + errno_text(saved));
  }
  return caf::none;
}

caf::expected<sandbox_result> resident_sandbox::run(const sandbox_request& req,
                                                    int abort_fd) {
  if (req.network != network || req.writable_roots != roots)
    return sandbox_error(sandbox_errc::invalid_request,
                         "sandbox: the request's isolation profile (network, writable "
                         "roots) differs from this worker's");
  if (req.limits.tmp_bytes != tmp_bytes_) {
    // /tmp is empty here (reset ran), so shrinking cannot fail for lack
    // of room.
    auto data = "size=" + std::to_string(std::max<uint64_t>(req.limits.tmp_bytes, 4096));
    if (mount(nullptr, "/tmp", nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, data.c_str()) != 0)
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: resizing /tmp to " + data + ": "
                             + errno_text(errno));
    tmp_bytes_ = req.limits.tmp_bytes;
  }
  auto ex = prepare_exec(req, true, uid, ignored_signals_);
  pipe_pair in, out, err, rep;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err) || !make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: pipes for '" + req.argv.front()
                           + "': " + errno_text(errno));
  ex.in_fd = in.r;
  ex.out_fd = out.w;
  ex.err_fd = err.w;
  ex.report_fd = rep.w;
  auto t0 = clock_type::now();
  pid_t child = spawn_command(ex);
  if (child < 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: fork for '" + req.argv.front()
                           + "': " + errno_text(errno));
  close_fd(in.r);
  close_fd(out.w);
  close_fd(err.w);
  close_fd(rep.w);
  pump_io io;
  io.in_w = std::exchange(in.w, -1);
  io.out_r = std::exchange(out.r, -1);
  io.err_r = std::exchange(err.r, -1);
  // The report pipe stays out of the pump when the command's exit can be
  // watched: the command writes its reports before exec (the fd is
  // close-on-exec) or instead of it, so once it is reaped the pipe holds them
  // all, and watching it would wake us once more, at exec.
  io.anchor = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  if (io.anchor < 0)
    io.report_r = std::exchange(rep.r, -1);
  io.abort = abort_fd;
  int status = 0;
  bool have_status = false;
  // As pid 1 of the namespace, kill(-1) reaches every process but us: also
  // those that left the command's session or process group. But kill(-1)
  // walks every process on the host, so first reap what has exited: every
  // process of the call descends from us (orphans are reparented to pid 1,
  // and nothing can enter the namespace from outside: setns is filtered),
  // so once we have no child left the namespace is empty.
  auto kill_all = [&] {
    for (;;) {
      int st = 0;
      pid_t w = waitpid(-1, &st, WNOHANG);
      if (w == child) {
        status = st;
        have_status = true;
      } else if (w == 0) {
        kill(-1, SIGKILL); // some are still running
        return;
      } else if (w < 0 && errno != EINTR) {
        return; // ECHILD: nothing of the call is left
      }
    }
  };
  auto pr = pump(io, req.stdin_data, req.limits.output_cap_bytes,
                 req.limits.wall_timeout_ms, kill_all);
  kill_all();
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    if (w == child) {
      status = st;
      have_status = true;
    } else if (w < 0 && errno != EINTR) {
      break; // ECHILD: nothing of the call is left
    }
  }
  uint64_t report_bytes = 0;
  while (rep.r >= 0) // every writer is gone: this reads to EOF
    drain(rep.r, &pr.reports, &report_bytes, 1 << 16);
  if (pr.aborted)
    return sandbox_error(sandbox_errc::worker_crashed,
                         "sandbox worker: the pool went away during '"
                           + req.argv.front() + "'; the call was killed");
  auto res = make_result(pr, have_status, status, nullptr, ex,
                         req.limits.output_cap_bytes);
  if (res) {
    res->wall_us = micros_since(t0);
    res->isolation = "namespaces";
  }
  return res;
}

} // namespace troupe::detail
