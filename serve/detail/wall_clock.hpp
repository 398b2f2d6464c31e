#pragma once
// The service's one reading of wall-clock time: job, quota and metrics
// timestamps are microseconds since the Unix epoch, as in the journal.

#include <chrono>
#include <cstdint>

namespace troupe::serve::detail {

inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace troupe::serve::detail
