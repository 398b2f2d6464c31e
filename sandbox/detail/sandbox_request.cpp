#include "sandbox/detail/sandbox_request.hpp"

#include <algorithm>
#include <system_error>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_root.hpp"

namespace troupe::detail {

namespace fs = std::filesystem;

namespace {

bool is_within(const fs::path& p, const fs::path& base) {
  auto [b, q] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
  (void)q;
  return b == base.end();
}

caf::error invalid(std::string msg) {
  return sandbox_error(sandbox_errc::invalid_request, "sandbox: " + std::move(msg));
}

} // namespace

std::vector<fs::path> outermost(std::vector<fs::path> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  std::vector<fs::path> outer;
  for (const auto& p : paths)
    if (std::none_of(outer.begin(), outer.end(),
                     [&](const fs::path& o) { return is_within(p, o); }))
      outer.push_back(p);
  return outer;
}

bool in_kernel_dirs(const fs::path& p) {
  return is_within(p, "/proc") || is_within(p, "/sys") || is_within(p, "/dev");
}

caf::expected<std::vector<fs::path>> normalize_roots(const std::vector<fs::path>& roots) {
  std::vector<fs::path> out;
  for (const auto& root : roots) {
    if (!root.is_absolute())
      return invalid("writable root '" + root.string() + "' is not an absolute path");
    std::error_code ec;
    auto canon = fs::canonical(root, ec);
    if (ec)
      return invalid("writable root '" + root.string() + "': " + ec.message());
    if (!fs::is_directory(canon, ec))
      return invalid("writable root '" + root.string() + "' is not a directory");
    if (canon == "/" || in_kernel_dirs(canon))
      return invalid("writable root '" + root.string()
                     + "' may not be /, or lie in /proc, /sys or /dev");
    out.push_back(canon);
  }
  // A root inside another adds nothing and would only cost a mount.
  return outermost(std::move(out));
}

caf::expected<std::vector<fs::path>>
normalize_read_only_roots(const std::vector<fs::path>& roots,
                          const std::vector<fs::path>& writable) {
  std::vector<fs::path> out;
  for (const auto& root : roots) {
    const auto& text = root.native();
    if (text.find('\0') != std::string::npos)
      return invalid("a read-only root contains a NUL byte");
    if (!root.is_absolute())
      return invalid("read-only root '" + text + "' is not an absolute path");
    std::error_code ec;
    auto canon = fs::canonical(root, ec);
    if (ec)
      return invalid("read-only root '" + text + "': " + ec.message());
    // Only directories and regular files: a bound socket or fifo would let
    // the command talk to a host service, which read-only does not prevent.
    auto st = fs::status(canon, ec);
    if (ec || (st.type() != fs::file_type::directory && st.type() != fs::file_type::regular))
      return invalid("read-only root '" + text + "' is neither a directory nor a regular file");
    if (canon == "/" || in_kernel_dirs(canon))
      return invalid("read-only root '" + text
                     + "' may not be /, or lie in /proc, /sys or /dev");
    // Already visible: read-only in a system directory, writable in a
    // writable root (the more permissive grant wins).
    if (in_system_dirs(canon)
        || std::any_of(writable.begin(), writable.end(),
                       [&](const fs::path& w) { return is_within(canon, w); }))
      continue;
    out.push_back(canon);
  }
  return outermost(std::move(out));
}

caf::expected<sandbox_request> normalize_request(const sandbox_request& in) {
  if (in.argv.empty() || in.argv.front().empty())
    return invalid("argv is empty; argv[0] must name the program");
  for (const auto& a : in.argv)
    if (a.find('\0') != std::string::npos)
      return invalid("an argument of '" + in.argv.front() + "' contains a NUL byte");
  for (const auto& [key, value] : in.env)
    if (key.empty() || key.find_first_of(std::string{"=\0", 2}) != std::string::npos
        || value.find('\0') != std::string::npos)
      return invalid("environment variable '" + key
                     + "' is empty, contains '=' or a NUL byte");
  // Bounded so that a call's data always fits a pool frame, in memory and
  // on the wire.
  if (in.stdin_data.size() > sandbox_max_io_bytes
      || in.limits.output_cap_bytes > sandbox_max_io_bytes)
    return invalid("stdin (" + std::to_string(in.stdin_data.size())
                   + " bytes) and output_cap_bytes ("
                   + std::to_string(in.limits.output_cap_bytes) + ") may not exceed "
                   + std::to_string(sandbox_max_io_bytes) + " bytes");
  auto out = in;
  auto roots = normalize_roots(in.writable_roots);
  if (!roots)
    return std::move(roots.error());
  out.writable_roots = std::move(*roots);
  auto read_only = normalize_read_only_roots(in.read_only_roots, out.writable_roots);
  if (!read_only)
    return std::move(read_only.error());
  out.read_only_roots = std::move(*read_only);
  if (in.cwd.empty()) {
    out.cwd = out.writable_roots.empty() ? fs::path{"/tmp"} : out.writable_roots.front();
    return out;
  }
  if (in.cwd == "/tmp") {
    out.cwd = in.cwd; // the sandbox's private /tmp
    return out;
  }
  std::error_code ec;
  // A relative cwd is relative to the first writable root, never to the
  // caller's own working directory.
  auto wanted = in.cwd.is_relative() && !out.writable_roots.empty()
                  ? out.writable_roots.front() / in.cwd
                  : in.cwd;
  auto cwd = fs::canonical(wanted, ec);
  if (ec)
    return invalid("cwd '" + in.cwd.string() + "': " + ec.message());
  if (std::none_of(out.writable_roots.begin(), out.writable_roots.end(),
                   [&](const fs::path& r) { return is_within(cwd, r); }))
    return invalid("cwd '" + in.cwd.string() + "' is outside the writable roots");
  out.cwd = cwd;
  return out;
}

std::string profile_key(bool network, const std::vector<fs::path>& roots) {
  std::string key = network ? "net=1" : "net=0";
  for (const auto& r : roots) {
    key += '\0';
    key += r.string();
  }
  return key;
}

} // namespace troupe::detail
