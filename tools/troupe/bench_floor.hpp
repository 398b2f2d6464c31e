#pragma once
// The physical floors the benches compare against, measured in the same run
// on the same disk: what one durable commit costs when nothing but the disk
// is in the way.

#include <cstdint>
#include <string>

namespace troupe::cli {

struct fsync_floor {
  uint64_t syncs = 0;
  double per_s = 0;     ///< fdatasync calls per second, back to back
  double p50_us = 0;
  double p99_us = 0;
  std::string error;    ///< non-empty: the directory could not be measured
};

/// Appends 4 KiB to a scratch file in `dir` and fdatasyncs it, back to back,
/// for about `seconds` (at least 20 syncs): the latency of one durable write
/// on that file system, which bounds how often any journal can commit.
[[nodiscard]] fsync_floor measure_fsync_floor(const std::string& dir, double seconds);

/// CPU time (user + system) this process has used so far, in microseconds.
[[nodiscard]] int64_t process_cpu_us();

} // namespace troupe::cli
