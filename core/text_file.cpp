#include "core/text_file.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/runtime_errc.hpp"
#include "core/toml_limits.hpp"

namespace troupe {

namespace {

// Closes the descriptor when the read is over, on every path.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

caf::expected<std::string> read_text_file(const std::string& path, std::string_view what,
                                          std::string_view expected) {
  auto refuse = [&](const std::string& why) {
    return caf::make_error(runtime_errc::invalid_scenario,
                           path + ": cannot read the " + std::string(what) + " (" + why
                             + "); expected " + std::string(expected));
  };
  auto cannot_read = [&](int code) { return refuse(std::generic_category().message(code)); };
  // Non-blocking, so that a FIFO cannot hang the open; the type is checked on
  // the opened descriptor, so it is the file that is read.
  fd_closer file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0)
    return cannot_read(errno);
  struct stat st{};
  if (::fstat(file.fd, &st) != 0)
    return cannot_read(errno);
  if (!S_ISREG(st.st_mode))
    return refuse(S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
  std::string text;
  char buf[8192];
  for (;;) {
    auto n = ::read(file.fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return cannot_read(errno);
    if (n == 0)
      return text;
    text.append(buf, static_cast<size_t>(n));
    // Reading stops at the limit: a huge file is refused, not loaded.
    if (text.size() > max_toml_bytes)
      return refuse("larger than " + std::to_string(max_toml_bytes >> 20) + " MiB, the limit");
  }
}

} // namespace troupe
