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

struct storage_floor {
  uint64_t rows = 0;
  uint64_t commits = 0;
  double seconds = 0;   ///< writing only: reading the source is not timed
  std::string error;    ///< non-empty: no figure
};

/// What SQLite alone needs to store what a journal holds: every event row of
/// the journal at `from`, in the order it was committed, written with raw
/// prepared statements into a fresh journal at `to` (same schema, WAL,
/// synchronous=FULL), one transaction per `batch` rows, each run's row
/// inserted on first sight and its position updated once per transaction, as
/// the journal's writer does. No actors, no stamping, packing, checksums or
/// hash links (their values are copied): the floor of the journal's writer
/// on this disk and row shape.
[[nodiscard]] storage_floor measure_storage_floor(const std::string& from,
                                                  const std::string& to, uint64_t batch);

/// CPU time (user + system) this process has used so far, in microseconds.
[[nodiscard]] int64_t process_cpu_us();

} // namespace troupe::cli
