#include "runtime/text_file.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include "runtime/runtime_errc.hpp"

namespace troupe {

caf::expected<std::string> read_text_file(const std::string& path, std::string_view what) {
  auto cannot_read = [&](int code) {
    return caf::make_error(runtime_errc::invalid_scenario,
                           path + ": cannot read the " + std::string(what) + " ("
                             + std::generic_category().message(code)
                             + "); expected a readable TOML file");
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> fp{std::fopen(path.c_str(), "rb"),
                                                     &std::fclose};
  if (!fp)
    return cannot_read(errno);
  std::string text;
  char buf[8192];
  size_t n;
  errno = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), fp.get())) > 0)
    text.append(buf, n);
  // Opening a directory succeeds on Linux; only reading it fails (EISDIR).
  if (std::ferror(fp.get()))
    return cannot_read(errno != 0 ? errno : EIO);
  return text;
}

} // namespace troupe
