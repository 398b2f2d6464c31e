#pragma once
// Pre-started sandboxes for process tools: the warm path next to the cold
// `run_sandboxed` (sandbox/sandbox_process.hpp).
//
// Each worker is a `troupe-sandbox-worker` process that has already entered
// its namespaces and built its root (the cost `run_sandboxed` pays per call,
// paid once); it receives requests over a socketpair and runs each in a
// fresh child with the call's rlimits, timeout, output caps, cwd and env, a
// fresh /tmp and IPC namespace, and kills whatever the call left behind
// before answering. The isolation is the same as the cold path's.
//
// Workers are keyed by isolation profile (network on/off + writable roots):
// a call goes to an idle worker of its profile, or to one started for it on
// demand (evicting an idle worker of another profile when the pool is full).
// A worker is retired after `max_calls_per_worker` calls, and after any call
// that breached a limit or failed in the worker, because such a call may
// have left state behind (a full /tmp of the profile, a stuck process). A
// worker that dies is noticed (EOF on its socket) and replaced; the call it
// was serving fails with `sandbox_errc::worker_crashed`, never hangs.
//
// Thread safety: `run` and `stats` may be called from any number of threads.
// `run` blocks for the call's duration: call it from detached actors or
// plain threads. Destroy the pool only when no `run` is in progress.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "sandbox/sandbox_process.hpp"
#include "core/sandbox_spec.hpp"

namespace troupe {

struct pool_config {
  /// Workers kept started for the default profile below.
  size_t workers = 2;
  /// Path of the troupe-sandbox-worker executable.
  std::string worker_binary;
  uint32_t max_calls_per_worker = 100;
  /// The default profile: what most calls ask for (the workspace root, no
  /// network). Calls with another profile get workers started on demand.
  std::vector<std::filesystem::path> writable_roots;
  bool network = false;
  /// Upper bound on live workers of all profiles; 0 means 2 x `workers`
  /// (at least `workers` + 1). Calls beyond it wait for a worker.
  size_t max_workers = 0;
  /// How long a starting worker may take to report ready.
  uint64_t start_timeout_ms = 10000;
  /// How long past the call's wall timeout the pool waits for a worker's
  /// answer before it declares the worker hung and kills it.
  uint64_t reply_grace_ms = 5000;
};

struct pool_stats {
  size_t live = 0; ///< workers started and not yet retired
  size_t idle = 0;
  size_t busy = 0;
  uint64_t calls = 0;           ///< calls that reached a worker
  uint64_t started = 0;         ///< workers started (including replacements)
  uint64_t start_failures = 0;
  uint64_t retired_max_calls = 0;
  uint64_t retired_breach = 0;  ///< after a limit breach or a worker-side error
  uint64_t evicted = 0;         ///< idle, of another profile, to make room
  uint64_t crashed = 0;         ///< died or hung, idle or during a call
};

class sandbox_pool {
public:
  /// Starts `cfg.workers` workers of the default profile and returns once
  /// all are ready. Fails with the first worker's error (for example
  /// `sandbox_errc::unavailable` where isolation is impossible, or
  /// `spawn_failed` naming the binary); a pool that started refills itself
  /// in the background.
  [[nodiscard]] static caf::expected<std::unique_ptr<sandbox_pool>>
  start(pool_config cfg);

  ~sandbox_pool();
  sandbox_pool(const sandbox_pool&) = delete;
  sandbox_pool& operator=(const sandbox_pool&) = delete;

  /// Runs `req` in a worker of its profile (the request is normalized as
  /// `run_sandboxed` does; `allow_unsandboxed` is ignored: pool workers are
  /// always isolated). A request whose normalized `read_only_roots` are not
  /// empty is refused with `invalid_request`: workers do not provide them.
  /// Blocks until the call ends. Errors: `invalid_request`,
  /// `spawn_failed` (no worker could be started), `worker_crashed` (the
  /// worker died or hung mid-call; whether the command ran is unknown),
  /// `protocol_error`.
  [[nodiscard]] caf::expected<sandbox_result> run(const sandbox_request& req);

  [[nodiscard]] pool_stats stats() const;

private:
  struct worker;
  enum class outcome : uint8_t { reusable, breach, crashed };

  explicit sandbox_pool(pool_config cfg);
  [[nodiscard]] caf::expected<std::unique_ptr<worker>>
  spawn_worker(bool network, const std::vector<std::filesystem::path>& roots);
  [[nodiscard]] caf::expected<worker*> acquire(const sandbox_request& norm,
                                               const std::string& key);
  void release(worker* w, outcome how);
  void retire_locked(worker* w, bool kill_now);
  [[nodiscard]] size_t default_deficit_locked() const;
  void maintain();
  void reap_locked();

  pool_config cfg_;
  std::string default_key_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;  ///< a worker became idle or a slot freed
  std::condition_variable maint_cv_; ///< work for the maintainer thread
  std::vector<std::unique_ptr<worker>> workers_;
  struct exiting {
    int pid;
    std::chrono::steady_clock::time_point since;
    bool killed;
  };
  std::vector<exiting> exiting_; ///< retired workers not yet reaped
  size_t starting_ = 0;          ///< slots held by starts in progress
  uint64_t picks_ = 0;           ///< workers handed out, for LRU order
  bool stopping_ = false;
  pool_stats stats_;
  std::thread maintainer_;
};


/// The troupe-sandbox-worker to use: `given` when not empty, else the one
/// beside the running executable, else the first on PATH; empty when none.
[[nodiscard]] std::string find_sandbox_worker(const std::string& given = {});

} // namespace troupe
