#pragma once
// `troupe bench sandbox`: per-call latency of a trivial process tool
// (/bin/true) in a new sandbox per call (run_sandboxed) against the
// pre-started pool (sandbox_pool), and both against the floor (the same
// command through posix_spawn with piped stdio, no sandbox), measured in the
// same run.

#include <cstdint>
#include <string>

namespace troupe::cli {

struct bench_sandbox_options {
  uint64_t calls = 200; ///< calls per phase
  bool json = false;    ///< one JSON object on stdout, no progress lines
  /// Path of troupe-sandbox-worker; empty: next to the running executable,
  /// then the PATH.
  std::string worker_binary;
};

/// Exit codes: 0 measured, 1 when a phase failed (isolation unavailable, no
/// worker binary), as in `docs/cli.md`.
int bench_sandbox(const bench_sandbox_options& opts);

} // namespace troupe::cli
