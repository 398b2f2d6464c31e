#pragma once
// The benchmarks' memory figures, from /proc/<pid>/status.

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include <sys/types.h>

namespace troupe::cli {

/// A field of /proc/<pid>/status in KiB ("VmRSS:" now, "VmHWM:" the peak);
/// 0 when it cannot be read. `pid` 0: this process.
inline uint64_t proc_status_kib(const char* key, pid_t pid = 0) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
      return std::stoull(line.substr(std::strlen(key) + 1));
  return 0;
}

} // namespace troupe::cli
