#pragma once
// A long-lived process in a sandbox that its caller talks to over pipes: an
// MCP server on stdio, for one. The sandbox is the cold path's
// (sandbox/sandbox_process.hpp: namespaces, root, uid, seccomp, rlimits),
// started once and kept until the command exits or is killed; without
// isolation (`allow_unsandboxed` where namespaces are unavailable) the
// command is a plain child leading its own session and process group.
//
// Lifetime: `start` returns once the sandbox's init is running (the
// command may still be starting); the command's stdin, stdout and stderr
// are pipes the object owns until a `release_*` hands one over. When the
// command exits, every other process of its sandbox is killed (without
// isolation: its process group) and the object's watcher thread reaps it;
// `wait` returns that outcome. Nothing outlives the object: the destructor
// kills and reaps, and if the whole troupe process dies the kernel kills
// the sandbox (PR_SET_PDEATHSIG on the watcher thread).
//
// Threads: each child has one watcher thread, which starts the sandbox (the
// command's uid is derived from that thread's id, so it is unique among live
// sandboxes) and reaps it. `kill`, `wait` and `try_wait` are safe from any
// thread, concurrently. The fd accessors and `release_*` are not
// synchronized: call them from the thread that owns the object, and hand
// released fds to reader threads.
//
// Writing stdin after the command has gone raises SIGPIPE in the writing
// thread: block it there (pthread_sigmask) or ignore it process-wide, then
// the write fails with EPIPE.
//
// Without isolation, a process that left the command's process group
// (setsid) survives the kill and may keep stdout or stderr open.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <sys/types.h>

#include <caf/expected.hpp>

#include "core/sandbox_spec.hpp"
#include "sandbox/sandbox_process.hpp"

namespace troupe {

namespace detail {
struct sandboxed_child_internal;
struct launched_sandbox;
} // namespace detail

/// How a sandboxed child ended.
struct child_exit {
  /// The command's exit status when it exited, else -1 (killed by a signal,
  /// or it never ran).
  int exit_code = -1;
  /// The signal that ended the command, else 0. After `kill`, or when the
  /// sandbox's init was killed, SIGKILL.
  int signal = 0;
  /// Why the command did not run, else empty: a setup step of the sandbox
  /// that failed ("sandbox setup failed while <step> ...: <errno text>";
  /// `exit_code` is then -1), or an exec that failed ("troupe-sandbox:
  /// cannot execute '<argv0>': <errno text>"; `exit_code` is then 127 when
  /// the program was not found, else 126, as a shell reports it).
  std::string failure;
};

class sandboxed_child {
public:
  /// Starts `req`'s command in a new sandbox and returns at once. The
  /// request is checked and normalized as `run_sandboxed` does, with these
  /// differences: `stdin_data` must be empty (write to `stdin_fd` instead);
  /// `limits.wall_timeout_ms` and `limits.output_cap_bytes` are ignored (the
  /// caller owns the lifetime and reads the pipes); `read_only_roots` are
  /// bound as documented in core/sandbox_spec.hpp (no effect without
  /// isolation). Errors: `invalid_request`, `unavailable` (no isolation
  /// here and `allow_unsandboxed` not set), `spawn_failed` (pipes, clone, a
  /// thread). A setup step inside the sandbox that fails, or a failed exec,
  /// is not an error here: the child then ends at once and `wait` says why.
  [[nodiscard]] static caf::expected<std::unique_ptr<sandboxed_child>>
  start(const sandbox_request& req);

  /// Kills the child if it still runs, and reaps it.
  ~sandboxed_child();
  sandboxed_child(const sandboxed_child&) = delete;
  sandboxed_child& operator=(const sandboxed_child&) = delete;

  /// The parent's ends of the command's stdin, stdout and stderr: blocking,
  /// close-on-exec, owned by this object; -1 once released or closed.
  /// stdout and stderr reach EOF once every process of the sandbox is gone.
  [[nodiscard]] int stdin_fd() const { return in_; }
  [[nodiscard]] int stdout_fd() const { return out_; }
  [[nodiscard]] int stderr_fd() const { return err_; }

  /// Hands a pipe end over: the caller closes it. -1 when already released.
  [[nodiscard]] int release_stdin();
  [[nodiscard]] int release_stdout();
  [[nodiscard]] int release_stderr();

  /// Closes stdin (the command reads EOF), unless it was released.
  void close_stdin();

  /// The process `wait` reaps: the sandbox's init (its host pid), or the
  /// plain child without isolation. Meaningful until `wait` has returned.
  [[nodiscard]] pid_t pid() const { return pid_; }

  /// "namespaces", or "none" for an allowed unsandboxed child.
  [[nodiscard]] const std::string& isolation() const { return isolation_; }

  /// SIGKILLs every process of the child: the sandbox's init, which takes
  /// its pid namespace along (without isolation: the process group). Any
  /// thread, any time, idempotent; a no-op once the child is reaped.
  void kill();

  /// Blocks until every process of the child has exited and the child is
  /// reaped, and returns how it ended. Any thread; may be called again.
  /// Without isolation: until the command has exited and its process group
  /// has been sent SIGKILL (the kernel may still be ending those).
  [[nodiscard]] child_exit wait();

  /// The outcome, if the child has been reaped; never blocks.
  [[nodiscard]] bool try_wait(child_exit& out);

private:
  friend struct detail::sandboxed_child_internal;

  sandboxed_child() = default;
  void watch(detail::launched_sandbox& launched);

  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool isolated_ = false;
  std::string isolation_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  bool reaped_ = false; ///< pid_ is no longer ours: nothing may signal it
  bool done_ = false;   ///< exit_ is final
  child_exit exit_;
  std::thread watcher_;
};

} // namespace troupe
