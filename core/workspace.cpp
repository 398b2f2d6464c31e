#include "core/workspace.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "schemas/errors.hpp"

namespace troupe {

namespace fs = std::filesystem;

namespace {

caf::error invalid(std::string msg) {
  return caf::make_error(runtime_errc::invalid_arguments, std::move(msg));
}

caf::error escape(std::string msg) {
  return caf::make_error(runtime_errc::path_escape, std::move(msg));
}

// True when `p` equals `base` or lies below it. Both are absolute and
// lexically normal, so comparing components is exact (a string prefix test
// would accept "/work/rootx" for "/work/root").
bool is_within(const fs::path& p, const fs::path& base) {
  auto [b, q] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
  (void)q;
  return b == base.end();
}

bool is_skippable(const fs::path& component) {
  // A trailing separator yields an empty component; "." adds nothing.
  return component.empty() || component == ".";
}

} // namespace

bool leaves_workspace(std::string_view path) noexcept {
  if (!path.empty() && path.front() == '/')
    return true;
  size_t begin = 0;
  while (begin <= path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string_view::npos)
      end = path.size();
    if (path.substr(begin, end - begin) == "..")
      return true;
    begin = end + 1;
  }
  return false;
}

spelling_fault spelling_fault_of(std::string_view path) noexcept {
  if (path.empty())
    return spelling_fault::empty;
  if (path.find('\0') != std::string_view::npos)
    return spelling_fault::nul;
  if (!leaves_workspace(path))
    return spelling_fault::none;
  return path.front() == '/' ? spelling_fault::absolute : spelling_fault::dot_dot;
}

caf::error check_workspace_spelling(const fs::path& root, std::string_view relative) {
  auto shown = std::string{relative};
  switch (spelling_fault_of(relative)) {
    case spelling_fault::none:
      return caf::none;
    case spelling_fault::empty:
      return invalid("path is empty; use '.' for the workspace root");
    case spelling_fault::nul:
      return invalid("path contains a NUL character; workspace root is '"
                     + root.string() + "'");
    case spelling_fault::absolute:
      return escape("path '" + shown + "' is absolute; paths are relative to the "
                    "workspace root '" + root.string() + "'");
    case spelling_fault::dot_dot:
      return escape("path '" + shown + "' contains '..'; paths must stay inside "
                    "the workspace root '" + root.string() + "'");
  }
  return caf::none;
}

caf::expected<unique_fd> open_workspace_root(const fs::path& root) {
  unique_fd fd{::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY)};
  if (fd.valid())
    return fd;
  int err = errno;
  if (err == ENOTDIR)
    return caf::make_error(runtime_errc::io_failed,
                           "workspace root '" + root.string() + "' is not a directory");
  return caf::make_error(runtime_errc::io_failed, "workspace root '" + root.string()
                                                    + "' is not accessible: "
                                                    + std::generic_category().message(err));
}

caf::expected<fs::path> resolve_in_workspace(const fs::path& root,
                                             std::string_view relative) {
  TROUPE_TRY(check_workspace_spelling(root, relative));
  fs::path rel{std::string{relative}};
  std::error_code ec;
  auto base = fs::canonical(root, ec);
  if (ec)
    return caf::make_error(runtime_errc::io_failed,
                           "workspace root '" + root.string()
                             + "' is not accessible: " + ec.message());
  if (!fs::is_directory(base, ec))
    return caf::make_error(runtime_errc::io_failed, "workspace root '" + root.string()
                                                      + "' is not a directory");
  auto shown = std::string{relative};
  // Walk the existing prefix one component at a time, resolving each symlink
  // and checking its target, so an intermediate link that leaves the root is
  // caught even when a later component would bring the path back.
  fs::path current = base;
  fs::path walked;
  auto it = rel.begin();
  for (; it != rel.end(); ++it) {
    if (is_skippable(*it))
      continue;
    auto next = current / *it;
    auto st = fs::symlink_status(next, ec);
    // Missing (or unreadable) from here on: nothing below can be a symlink
    // we could follow, so the rest is appended lexically below.
    if (ec || !fs::exists(st))
      break;
    walked /= *it;
    if (!fs::is_symlink(st)) {
      current = std::move(next);
      continue;
    }
    auto target = fs::canonical(next, ec);
    if (ec)
      return escape("path '" + shown + "': symlink '" + walked.string()
                    + "' is dangling or loops (" + ec.message()
                    + "), so it cannot be confined to the workspace root '"
                    + base.string() + "'");
    if (!is_within(target, base))
      return escape("path '" + shown + "' escapes the workspace root '"
                    + base.string() + "': symlink '" + walked.string()
                    + "' points to '" + target.string() + "'");
    current = std::move(target);
  }
  for (; it != rel.end(); ++it)
    if (!is_skippable(*it))
      current /= *it;
  // Defense in depth: the walk above should make this unreachable.
  if (!is_within(current, base))
    return escape("path '" + shown + "' resolves to '" + current.string()
                  + "', outside the workspace root '" + base.string() + "'");
  return current;
}

} // namespace troupe
