#include "sandbox/detail/cold_sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <functional>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_launch.hpp"
#include "sandbox/detail/sandbox_pump.hpp"

// A cold call is a sandbox started for it (sandbox_launch.cpp) and pumped
// on the calling thread until every process of it has exited: stdin fed,
// output capped, the wall timeout enforced by killing the init.

namespace troupe::detail {

caf::expected<sandbox_result> run_cold(const sandbox_request& req, bool isolate,
                                       const std::string& probe_file,
                                       stage* failed) {
  auto launched = launch_sandbox(req, isolate, probe_file);
  if (!launched)
    return std::move(launched.error());
  auto& l = *launched;
  pid_t child = l.pid;
  pump_io io;
  io.in_w = l.in_w.release();
  io.out_r = l.out_r.release();
  io.err_r = l.err_r.release();
  io.report_r = l.report_r.release();
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
  pump_result pr;
  {
    sigpipe_guard no_sigpipe;
    pr = pump(io, req.stdin_data, req.limits.output_cap_bytes,
              req.limits.wall_timeout_ms, kill_all);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  auto res = make_result(pr, !isolate, status, isolate ? &l.root : nullptr, l.exec,
                         req.limits.output_cap_bytes, failed);
  if (res) {
    res->wall_us = micros_since(l.started);
    res->isolation = isolate ? "namespaces" : "none";
  }
  return res;
}

} // namespace troupe::detail
