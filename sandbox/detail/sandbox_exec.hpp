#pragma once
// Starting a sandbox's command: `prepare_exec` plans it in the caller (it
// allocates); `exec_command` runs in the child with system calls only (stdio,
// a new session, cwd, rlimits, the uid drop, no_new_privs, the seccomp filter,
// then execve, searching PATH itself), and reports a failed step or exec on
// the plan's report fd.

#include <cstdint>
#include <string>
#include <vector>

#include <linux/filter.h>
#include <sys/types.h>

#include "core/sandbox_spec.hpp"

namespace troupe::detail {

// -- plans: everything a child needs, prepared before the fork ---------------

struct exec_plan {
  std::vector<std::string> arg_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<std::string> search; // PATH entries, when argv[0] has no '/'
  std::string cwd;
  sandbox_limits limits;
  // Signals the caller ignores: exec keeps SIG_IGN (not handlers), so these
  // must be reset for the command. Bit n-1 stands for signal n.
  uint64_t ignored_signals = 0;
  bool drop = false;
  uint32_t uid = 0;
  // The filter installed when `drop` (seccomp_filter.hpp); never null.
  const std::vector<sock_filter>* seccomp = nullptr;
  // Probe: instead of exec, create and remove this file, then exit 0.
  std::string probe_file;
  // dup2'd onto 0, 1, 2 when >= 0.
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  int report_fd = -1;
};

/// Signals this process ignores (see exec_plan::ignored_signals).
[[nodiscard]] uint64_t ignored_signals();

/// The plan for running `req` (normalized): as `uid` when `drop`, with the
/// `ignored` signals reset.
/// The caller fills in the fds.
[[nodiscard]] exec_plan prepare_exec(const sandbox_request& req, bool drop, uint32_t uid,
                                     uint64_t ignored);

// -- code that runs in children: system calls only ----------------------------

/// Moves fds 0..2 of the command into place even when the sources overlap
/// the destinations (a negative source leaves its fd alone).
[[nodiscard]] bool place_stdio(int in, int out, int err);

/// Becomes the command described by `p`; exits 125 when a setup step fails,
/// 126/127 when exec does (both reported on `p.report_fd`).
[[noreturn]] void exec_command(exec_plan& p);

/// Starts `exec_command(p)` in a child and returns its pid once it has
/// exec'd or exited; -1 (errno set) on failure. Only for single-threaded
/// processes; `p` must stay alive until this returns.
[[nodiscard]] pid_t spawn_command(exec_plan& p);

} // namespace troupe::detail
