#pragma once
// Starting a sandbox: planning its root and its command in the caller, then
// one clone() into new namespaces whose child (the sandbox's init) builds
// the root, starts the command and waits for it. Shared by the cold path
// (one call, cold_sandbox.cpp) and the long-lived child
// (sandbox/sandboxed_child.hpp); what happens after the start (pumping a
// call's stdin and output, or handing the pipes to a caller) is theirs.

#include <string>

#include <sys/types.h>

#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"
#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_exec.hpp"
#include "sandbox/detail/sandbox_root.hpp"

namespace troupe::detail {

/// A started sandbox, from the caller's side. The pipe ends are
/// close-on-exec and blocking; whoever takes one closes it.
struct launched_sandbox {
  /// The process to wait for: the sandbox's init (killing it kills the
  /// whole pid namespace), or without isolation the command itself, leader
  /// of its own session and process group.
  pid_t pid = -1;
  bool isolated = false;
  unique_fd in_w;     ///< the command's stdin
  unique_fd out_r;    ///< its stdout
  unique_fd err_r;    ///< its stderr
  unique_fd report_r; ///< the children's `child_report` records
  /// What was started, to describe a setup failure or a failed exec.
  root_plan root; ///< empty without isolation
  exec_plan exec;
  clock_type::time_point started;
};

/// Starts the normalized `req` in a new sandbox (without one, as a plain
/// child in a new session, when `isolate` is false) and returns at once.
/// `probe_file` non-empty runs the probe instead of the command.
///
/// The init reports on `report_r`: a setup step that failed, an exec that
/// failed, and finally the command's wait status (`report_kind::exited`).
/// Once the command exits the init exits too, and the kernel kills whatever
/// else is left in the pid namespace; the caller then reaps `pid`.
///
/// The command runs as `sandbox_uid_base` + the calling thread's id, and
/// the init dies with the calling thread (PR_SET_PDEATHSIG): the calling
/// thread must live, and reap `pid`, until the sandbox has ended. Safe from
/// multi-threaded callers (the children only make system calls).
/// Errors: `unavailable`, `invalid_request`, `spawn_failed`.
[[nodiscard]] caf::expected<launched_sandbox>
launch_sandbox(const sandbox_request& req, bool isolate, const std::string& probe_file);

} // namespace troupe::detail
