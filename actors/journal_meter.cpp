#include "actors/journal_meter.hpp"

namespace troupe {

const std::vector<double>& journal_meter::commit_latency_bounds() {
  // An fsync on an SSD takes ~0.1-2 ms, on a busy or network disk tens.
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1};
  return b;
}

const std::vector<double>& journal_meter::batch_size_bounds() {
  static const std::vector<double> b{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192};
  return b;
}

journal_meter::journal_meter()
  : latency_("commit_latency", "", metrics::metric_type::histogram, {}, commit_latency_bounds()),
    batch_("batch_size", "", metrics::metric_type::histogram, {}, batch_size_bounds()) {
  latency_.touch({});
  batch_.touch({});
}

void journal_meter::committed(size_t events, double seconds) {
  std::lock_guard<std::mutex> guard{mu_};
  latency_.observe({}, seconds);
  batch_.observe({}, static_cast<double>(events));
}

journal_meter::figures journal_meter::snapshot() const {
  figures f;
  f.inbox_depth = inbox_.load(std::memory_order_relaxed);
  f.accepted = accepted_.load(std::memory_order_relaxed);
  f.durable = durable_.load(std::memory_order_relaxed);
  f.rejected_busy = rejected_busy_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> guard{mu_};
  f.commit_latency = *latency_.find({});
  f.batch_size = *batch_.find({});
  return f;
}

} // namespace troupe
