#pragma once
// Runs one process call in a sandbox built from Linux namespaces, with no
// helper binary (the cold path; sandbox/sandbox_pool.hpp is the warm one).
//
// What a sandbox is:
// - new pid, mount, ipc and uts namespaces, and a new network namespace
//   (loopback only, down) unless the request keeps the network;
// - a fresh root (a tmpfs) holding read-only, nosuid binds of /usr, /bin,
//   /sbin, /lib*, /etc; a fresh /proc; a minimal /dev (null, zero, full,
//   random, urandom); a private /tmp tmpfs; the read-only roots and the
//   writable roots at their host paths. The host's /tmp, /home, /root, /var,
//   /run, /work... are absent; the rest of the root is read-only;
// - the command runs under an unprivileged uid of its own (0x70000000 + a
//   host thread or process id, so concurrent sandboxes never share one and
//   RLIMIT_NPROC, which counts per uid, is a per-sandbox limit), with
//   no_new_privs, no capabilities, and a seccomp filter that refuses user
//   namespaces, bpf, perf events, userfaultfd and io_uring. The writable
//   roots are idmapped mounts that show their owner as that uid, so the
//   command can write them while the files stay owned by their owner on
//   disk;
// - rlimits (CPU, address space, file size, open files, processes, no core
//   files), a new session, only the requested environment;
// - stdout and stderr through pipes, capped; a wall timeout that SIGKILLs
//   the pid namespace's init, which kills every process of the call.
//
// Requires root (CAP_SYS_ADMIN and CAP_SETUID in the initial user
// namespace) and idmapped mounts for the writable roots' filesystem (ext4,
// xfs: Linux 5.12; btrfs 5.15; overlayfs 5.19; tmpfs 6.3; Debian 12 ships
// 6.1, so a workspace on tmpfs fails there with the step named).
// Where that is missing, calls fail with `sandbox_errc::unavailable` unless
// the request sets `allow_unsandboxed`.
//
// Every function here blocks for as long as the command runs: call it from a
// detached actor or a plain thread, never from CAF's cooperative workers. It
// is safe from multi-threaded programs: the forked children perform only
// system calls on data prepared before the fork (no allocation, no locks,
// no glibc wrappers that coordinate threads).
//
// The same sandbox also holds read-only binds of the request's
// `read_only_roots` at their host paths (nosuid, nodev), and serves
// long-lived children that the caller talks to over pipes
// (sandbox/sandboxed_child.hpp; `default_read_only_roots` in
// sandbox/read_only_roots.hpp picks the roots an npm or pip install needs).
//
// The pieces (the root, the start shared by cold calls and long-lived
// children, the command child, the caller's pump, the pool worker's
// resident sandbox) are in sandbox/detail/, under troupe::detail.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/make_message.hpp> // before CAF_ERROR_CODE_ENUM: its expansion needs it

#include "core/sandbox_spec.hpp"

namespace troupe {

enum class sandbox_errc : uint8_t {
  /// Isolation cannot be set up here (not root, namespaces or idmapped mounts
  /// unavailable) and the request does not allow running without it.
  unavailable = 1,
  /// Creating the sandbox or its process failed: a pipe, clone, a mount
  /// step, a worker that could not start. The context names the step.
  spawn_failed,
  /// A pool worker sent something that is not a valid reply.
  protocol_error,
  /// A pool worker died or stopped answering during a call; the call's
  /// outcome is unknown (it may have run in part).
  worker_crashed,
  /// The request cannot run: empty argv, a NUL byte, a writable root that is
  /// missing or not a directory, a read-only root that is missing or neither
  /// a directory nor a regular file, a cwd outside the writable roots.
  invalid_request,
};

/// What `troupe doctor` reports about process isolation on this host.
struct isolation_probe {
  /// clone() with new pid, net, mount, ipc and uts namespaces works.
  bool namespaces = false;
  /// A writable root can be mounted idmapped for the sandbox uid.
  bool idmapped_mounts = false;
  /// The command can run as an unprivileged uid (so RLIMIT_NPROC holds).
  bool uid_drop = false;
  /// bubblewrap is installed (informational: troupe does not use it).
  bool bubblewrap_found = false;
  std::string bubblewrap_path;
  /// For each failed check, what failed and why; empty when all passed.
  std::string detail;
  /// Microseconds the full probe sandbox took to start and finish.
  uint64_t sandbox_start_us = 0;

  [[nodiscard]] bool ok() const {
    return namespaces && idmapped_mounts && uid_drop;
  }
};

/// Probes by building a real sandbox around a temporary writable directory
/// (a few milliseconds). Never fails: the answer is in the fields.
[[nodiscard]] isolation_probe probe_isolation();

/// "namespaces" when sandboxes work here, else `sandbox_errc::unavailable`
/// with the probe's detail. Probes once per process and caches the answer.
[[nodiscard]] caf::expected<std::string> isolation_available();

/// Runs `req` in a new sandbox and returns once every process of the call
/// has exited (the wall timeout kills them). A command that runs and fails
/// is a result (see `sandbox_result`), not an error. Errors:
/// `invalid_request`, `unavailable` (see `allow_unsandboxed`), `spawn_failed`.
[[nodiscard]] caf::expected<sandbox_result> run_sandboxed(const sandbox_request& req);

} // namespace troupe

CAF_ERROR_CODE_ENUM(troupe::sandbox_errc, "sandbox")
