#include "tools/troupe/bench_floor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace troupe::cli {

fsync_floor measure_fsync_floor(const std::string& dir, double seconds) {
  using clock_type = std::chrono::steady_clock;
  fsync_floor out;
  auto path = dir + "/fsync-floor.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    out.error = path + ": " + std::strerror(errno);
    return out;
  }
  std::vector<char> page(4096, 'x');
  std::vector<double> lat_us;
  auto start = clock_type::now();
  auto budget = std::chrono::duration<double>(seconds);
  while (lat_us.size() < 20 || clock_type::now() - start < budget) {
    auto t0 = clock_type::now();
    if (::write(fd, page.data(), page.size()) != static_cast<ssize_t>(page.size())
        || ::fdatasync(fd) != 0) {
      out.error = path + ": " + std::strerror(errno);
      break;
    }
    lat_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  auto total_s = std::chrono::duration<double>(clock_type::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  if (lat_us.empty())
    return out;
  out.syncs = lat_us.size();
  out.per_s = static_cast<double>(lat_us.size()) / total_s;
  std::sort(lat_us.begin(), lat_us.end());
  auto at = [&](double p) {
    return lat_us[static_cast<size_t>(p * static_cast<double>(lat_us.size() - 1))];
  };
  out.p50_us = at(0.5);
  out.p99_us = at(0.99);
  return out;
}

int64_t process_cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

} // namespace troupe::cli
