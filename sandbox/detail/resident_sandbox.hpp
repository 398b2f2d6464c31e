#pragma once
// A long-lived sandbox: the process of a pool worker (tools/sandbox_worker,
// sandbox/sandbox_pool.hpp) enters the namespaces and builds the root once,
// then runs each call in a fresh child. What a sandbox is:
// sandbox/sandbox_process.hpp.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"

namespace troupe::detail {

/// A long-lived sandbox (a pool worker): the calling process enters the
/// namespaces and the root once, then `run` runs each call in a fresh
/// child. Only for single-threaded processes.
class resident_sandbox {
public:
  /// Enters new namespaces and forks; returns in the child, which is pid 1
  /// of the new pid namespace with the sandbox root as its root. In the
  /// parent it never returns: it waits for the child and exits with its
  /// status. `uid` is the uid commands run as. Keeps `keep_fd` open.
  [[nodiscard]] static caf::expected<resident_sandbox>
  enter(bool network, const std::vector<std::filesystem::path>& roots, uint32_t uid,
        int keep_fd);

  /// Runs one call (its request normalized, with this sandbox's profile):
  /// a fresh child with its own session, rlimits, cwd and env, in the IPC
  /// namespace `reset` prepared for it. Afterwards every process the call
  /// left is killed and reaped.
  /// `abort_fd` becomes readable when the caller has gone away; the call is
  /// then killed and `sandbox_errc::worker_crashed` returned.
  /// REQUIRES: `reset` succeeded after the previous call.
  [[nodiscard]] caf::expected<sandbox_result> run(const sandbox_request& req, int abort_fd);

  /// Replaces /tmp with an empty tmpfs (writable roots below /tmp attached
  /// again) and moves this process into a new IPC namespace, which the next
  /// call's command inherits: nothing a call left in /tmp or in SysV IPC
  /// reaches the next call. Meant to run after the reply is sent, off the
  /// caller's latency. A failure leaves the sandbox unfit for further calls.
  [[nodiscard]] caf::error reset();

  bool network = false;
  std::vector<std::filesystem::path> roots;
  uint32_t uid = 0;

private:
  struct tmp_root {
    std::string path;
    std::vector<std::string> mkdirs;
    int fd = -1; ///< a detached clone of the root's idmapped mount
  };
  caf::error reset_tmp();

  std::vector<tmp_root> tmp_roots_;
  uint64_t tmp_bytes_ = 0;       ///< size of the current /tmp
  uint64_t ignored_signals_ = 0; ///< what commands must not inherit
};

} // namespace troupe::detail
