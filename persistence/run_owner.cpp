#include "persistence/run_owner.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include <unistd.h>

namespace troupe::persistence {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string pid_namespace() {
  char buf[64];
  auto n = readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

// Field 22 of /proc/PID/stat: start time in clock ticks since boot. The
// command name (field 2) may hold spaces and parentheses, so count from the
// last ')'.
std::string start_time_of(const std::string& pid) {
  auto stat = first_line("/proc/" + pid + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i)
    if (i == 22)
      return field;
  return {};
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep))
    out.push_back(part);
  return out;
}

std::string host_name() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string("?");
}

} // namespace

const std::string& this_process_owner() {
  static const std::string id = [] {
    auto pid = std::to_string(getpid());
    return host_name() + "/" + first_line("/proc/sys/kernel/random/boot_id") + "/"
           + pid_namespace() + "/" + pid + "/" + start_time_of(pid);
  }();
  return id;
}

owner_liveness liveness_of(const std::string& owner) {
  auto theirs = split(owner, '/');
  auto ours = split(this_process_owner(), '/');
  if (theirs.size() != 5 || ours.size() != 5 || theirs[1].empty() || theirs[2].empty())
    return owner_liveness::unknown;
  if (theirs[1] != ours[1] || theirs[2] != ours[2])
    return owner_liveness::unknown; // another boot or pid namespace
  if (theirs[3].find_first_not_of("0123456789") != std::string::npos)
    return owner_liveness::unknown;
  auto started = start_time_of(theirs[3]);
  return !started.empty() && started == theirs[4] ? owner_liveness::alive
                                                  : owner_liveness::gone;
}

} // namespace troupe::persistence
