#include "sandbox/read_only_roots.hpp"

#include <optional>
#include <system_error>

#include <unistd.h>

#include "sandbox/detail/sandbox_request.hpp"
#include "sandbox/detail/sandbox_root.hpp"

namespace troupe {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec); // follows symlinks
}

// As execvp would find it, but only through absolute PATH entries.
std::optional<fs::path> find_in_path(const std::string& name, const std::string& path_env) {
  size_t start = 0;
  for (;;) {
    auto end = path_env.find(':', start);
    fs::path dir = path_env.substr(start, end == std::string::npos ? end : end - start);
    if (dir.is_absolute()) {
      auto candidate = dir / name;
      if (is_file(candidate) && access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    if (end == std::string::npos)
      return std::nullopt;
    start = end + 1;
  }
}

std::optional<fs::path> resolve(const fs::path& p) {
  if (!p.is_absolute() || !is_file(p))
    return std::nullopt;
  std::error_code ec;
  auto canon = fs::canonical(p, ec);
  if (ec)
    return std::nullopt;
  return canon;
}

// `file` is canonical.
fs::path root_of(const fs::path& file) {
  fs::path acc;
  for (const auto& part : file) {
    acc /= part;
    if (part == "node_modules" && acc != file)
      return acc;
  }
  std::error_code ec;
  for (auto dir = file.parent_path(); dir != dir.root_path(); dir = dir.parent_path())
    if (fs::exists(dir / "pyvenv.cfg", ec))
      return dir;
  auto dir = file.parent_path();
  return dir == dir.root_path() ? file : dir;
}

} // namespace

std::vector<fs::path> default_read_only_roots(const std::vector<std::string>& argv,
                                              const std::string& path_env) {
  std::vector<fs::path> files;
  for (size_t i = 0; i < argv.size(); ++i) {
    const auto& arg = argv[i];
    if (arg.empty() || arg.find('\0') != std::string::npos)
      continue;
    std::optional<fs::path> found;
    if (i == 0 && arg.find('/') == std::string::npos)
      found = find_in_path(arg, path_env);
    else
      found = fs::path{arg};
    if (!found)
      continue;
    if (auto file = resolve(*found))
      files.push_back(*file);
  }
  std::vector<fs::path> roots;
  for (const auto& f : files) {
    auto root = root_of(f);
    if (root == "/" || detail::in_system_dirs(root) || detail::in_kernel_dirs(root))
      continue;
    roots.push_back(std::move(root));
  }
  return detail::outermost(std::move(roots));
}

} // namespace troupe
