#pragma once
// A snapshot of the runtime's insides for monitoring (`troupe serve`'s
// /metrics): the journal writer, the sandbox pool and the model endpoints'
// breakers. Taking one never waits for a busy actor: each part keeps its
// figures where a reader can copy them (atomics, or copies under a mutex
// held only for the copy).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

/// A histogram: counts per bucket (one per upper bound, then +Inf; not
/// cumulative), with the sum and count of the observations.
struct distribution {
  std::vector<double> bounds;
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

struct journal_figures {
  uint64_t accepted = 0;      ///< events accepted for writing
  uint64_t durable = 0;       ///< of them, appends whose sender waited for the commit
  uint64_t committed = 0;     ///< events committed
  uint64_t commits = 0;       ///< transactions
  uint64_t rejected_busy = 0; ///< appends refused: the inbox was over capacity
  uint64_t inbox_depth = 0;   ///< messages waiting when the last append arrived
  distribution commit_latency_s; ///< each commit: append, COMMIT and fsync
  distribution batch_size;       ///< events per commit
};

/// The `shell` tool's sandbox workers (sandbox/sandbox_pool.hpp).
struct sandbox_figures {
  uint64_t live = 0;
  uint64_t idle = 0;
  uint64_t busy = 0;
  uint64_t calls = 0;
  uint64_t started = 0;
  uint64_t start_failures = 0;
  uint64_t recycled = 0;         ///< retired after their maximum number of calls
  uint64_t limit_breaches = 0;   ///< retired after a call breached a limit
  uint64_t evicted = 0;
  uint64_t crashed = 0;
};

/// One endpoint:model pair of a routed model, as the gateways see it.
struct endpoint_figures {
  std::string endpoint;
  std::string model;
  std::string breaker; ///< closed, open, half_open
  double score = 0;    ///< health in [0, 1]
  uint32_t in_flight = 0;
  uint64_t requests = 0;
  uint64_t failures = 0;
};

struct runtime_stats {
  journal_figures journal;
  /// Nothing until the first shell call started the pool.
  std::optional<sandbox_figures> sandbox;
  /// Every pair a routed model used or checked, ordered by endpoint, model.
  std::vector<endpoint_figures> endpoints;
};

} // namespace troupe
