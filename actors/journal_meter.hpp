#pragma once
// What the journal writer measures about itself, readable from any thread
// without asking the actor (a busy writer must not stall whoever asks how
// busy it is): each commit's latency and batch size as histograms, and the
// inbox depth it last saw. The writer records under a mutex held for a few
// additions; readers copy under it.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/metrics/family.hpp"

namespace troupe {

class journal_meter {
public:
  journal_meter();

  /// A commit of `events` events that took `seconds` (the SQLite append and
  /// its COMMIT with fsync).
  void committed(size_t events, double seconds);
  /// The inbox held `depth` messages when an append arrived.
  void inbox(size_t depth) { inbox_.store(depth, std::memory_order_relaxed); }
  void accepted() { accepted_.fetch_add(1, std::memory_order_relaxed); }
  /// An append whose sender waits for its commit (journal.hpp: durable).
  void durable() { durable_.fetch_add(1, std::memory_order_relaxed); }
  void rejected_busy() { rejected_busy_.fetch_add(1, std::memory_order_relaxed); }

  struct figures {
    uint64_t inbox_depth = 0;
    uint64_t accepted = 0;
    uint64_t durable = 0;
    uint64_t rejected_busy = 0;
    metrics::series commit_latency; ///< seconds; bounds: commit_latency_bounds()
    metrics::series batch_size;     ///< events; bounds: batch_size_bounds()
  };
  [[nodiscard]] figures snapshot() const;

  [[nodiscard]] static const std::vector<double>& commit_latency_bounds();
  [[nodiscard]] static const std::vector<double>& batch_size_bounds();

private:
  mutable std::mutex mu_;
  metrics::family latency_;
  metrics::family batch_;
  std::atomic<uint64_t> inbox_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> rejected_busy_{0};
};

} // namespace troupe
