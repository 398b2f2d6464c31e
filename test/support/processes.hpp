#pragma once
// Host process inspection for leftover checks (what `pgrep -f` finds).

#include <cstdlib>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace troupe::test {

/// The command line of `pid` with NULs as spaces; empty when the process is
/// gone. Plain read(2): a process can vanish mid-read (ESRCH), and an
/// iostream-based read throws then.
inline std::string cmdline_of(const char* pid) {
  std::string out;
  int fd = ::open((std::string{"/proc/"} + pid + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  for (auto& c : out)
    if (c == '\0')
      c = ' ';
  return out;
}

/// Pids of processes whose command line contains `needle`, this one excluded.
inline std::vector<int> processes_with(const std::string& needle) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid())
      continue;
    if (cmdline_of(e->d_name).find(needle) != std::string::npos)
      out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

} // namespace troupe::test
