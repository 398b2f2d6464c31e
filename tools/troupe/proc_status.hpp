#pragma once
// The benchmarks' memory figures, from /proc/self/status.

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

namespace troupe::cli {

/// A field of /proc/self/status in KiB ("VmRSS:" now, "VmHWM:" the peak); 0
/// when it cannot be read.
inline uint64_t proc_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
      return std::stoull(line.substr(std::strlen(key) + 1));
  return 0;
}

} // namespace troupe::cli
