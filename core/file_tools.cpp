// The built-in file tools: read_file, write_file, append_file, list_dir.
//
// They run on the host, often as root, while sandboxed commands change the
// same workspace. So no path is ever resolved by name: each call opens the
// workspace root once and reaches everything beneath that descriptor
// (runtime/workspace_fd.hpp), and each file is checked on the descriptor it
// was opened as (fstat), never by a second lookup. Opens are non-blocking,
// so a FIFO, socket or device is refused at once instead of hanging the
// tool worker.

#include "core/builtin_tools.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/envelope.hpp"
#include "core/tool_helpers.hpp"
#include "core/workspace.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;
using detail::failed;
using detail::string_arg;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

json path_schema(const char* description) {
  return {{"type", "string"}, {"minLength", 1}, {"description", description}};
}

// -- the path of one call -------------------------------------------------------

// What a file tool knows about its path argument once it is judged by
// spelling: the root descriptor, the path as given (for messages) and its
// normalized form ("" for the root itself).
struct target {
  const tool_context* ctx;
  unique_fd root;
  std::string rel;
  std::string norm;

  // The part before the last component ("" for the root) and that component.
  std::pair<std::string, std::string> split() const {
    auto slash = norm.rfind('/');
    if (slash == std::string::npos)
      return {"", norm};
    return {norm.substr(0, slash), norm.substr(slash + 1)};
  }
};

caf::expected<target> open_target(const tool_context& ctx, const std::string& rel) {
  TROUPE_TRY(check_workspace_spelling(ctx.workspace_root, rel));
  auto root = open_workspace_root(ctx.workspace_root);
  if (!root)
    return root.error();
  return target{&ctx, std::move(*root), rel, normalize_relative(rel)};
}

// The type of what `t` names now, through an O_PATH descriptor (which opens
// nothing and cannot block), or 0 when it cannot be looked up. Only for the
// words of an error: the decision was made on the descriptor that failed.
mode_t type_of(const target& t) {
  unique_fd fd{open_beneath(t.root.get(), t.norm, O_PATH)};
  struct stat st{};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
    return 0;
  return st.st_mode & S_IFMT;
}

// "'pipe' is a FIFO; read_file reads regular files only".
std::string not_regular(const target& t, mode_t mode, const char* tool_does) {
  return "'" + t.rel + "' is a " + file_type_name(mode) + "; " + tool_does
         + " regular files only";
}

// Why resolution left the root (EXDEV). The name-based walk of
// resolve_in_workspace finds which symlink leads out for the message; it
// reads link targets, never contents, and decides nothing.
std::string escape_text(const target& t) {
  auto named = resolve_in_workspace(t.ctx->workspace_root, t.rel);
  if (!named)
    return render(named.error());
  std::string why = kernel_has_openat2()
                      ? "symbolic links are followed only when their target is "
                        "relative and stays inside"
                      : "this kernel lacks openat2, so no symbolic link is followed";
  return "path '" + t.rel + "' leaves the workspace root '"
         + t.ctx->workspace_root.string() + "' through a symbolic link; " + why;
}

// Words a failed open of `t` (errno `err`) for the model. `what` is "file" or
// "directory", `tool_does` completes "... regular files only".
std::string open_failure(const target& t, int err, const char* what, const char* tool_does) {
  switch (err) {
    case ENOENT:
      return std::string{"no such "} + what + " '" + t.rel + "' in workspace";
    case EXDEV:
      return escape_text(t);
    case ENXIO: // a FIFO without a reader or a socket, opened non-blocking
    case ENODEV:
    case EACCES: // a device node on a nodev mount, among others
      if (auto mode = type_of(t); mode != 0 && !S_ISREG(mode))
        return not_regular(t, mode, tool_does);
      break;
    default:
      break;
  }
  return "cannot open '" + t.rel + "': " + errno_text(err);
}

// The descriptor was opened O_NONBLOCK only so that opening could not block;
// reads and writes of a regular file must not see EAGAIN.
int clear_nonblock(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    return errno;
  return 0;
}

// -- POSIX I/O: std::fstream cannot fsync, nor tell why an open failed -------

// Returns 0 or the errno of the failed write.
int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Reads at most `limit` bytes into `out`; returns 0 or the errno.
int read_up_to(int fd, size_t limit, std::string& out) {
  char buf[64 * 1024];
  while (out.size() < limit) {
    auto want = std::min(sizeof(buf), limit - out.size());
    auto n = ::read(fd, buf, want);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return 0;
}

// -- read_file ----------------------------------------------------------------

tool_outcome run_read_file(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "read_file";
  constexpr const char* does = "read_file reads";
  auto rel = string_arg(args, "path");
  if (!rel)
    return failed(tool, "argument 'path' must be a string");
  auto t = open_target(ctx, *rel);
  if (!t)
    return failed(tool, render(t.error()));
  unique_fd fd{open_beneath(t->root.get(), t->norm, O_RDONLY | O_NONBLOCK)};
  if (!fd.valid())
    return failed(tool, open_failure(*t, -fd.get(), "file", does));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    return failed(tool, "cannot stat '" + *rel + "': " + errno_text(errno));
  if (S_ISDIR(st.st_mode))
    return failed(tool, "'" + *rel + "' is a directory; use list_dir to see its entries");
  if (!S_ISREG(st.st_mode))
    return failed(tool, not_regular(*t, st.st_mode, does));
  if (int err = clear_nonblock(fd.get()))
    return failed(tool, "cannot read '" + *rel + "': " + errno_text(err));
  std::string content;
  // One byte past the cap tells "exactly at the limit" from "over it", also
  // when the file grew after the fstat.
  if (int err = read_up_to(fd.get(), max_read_file_bytes + 1, content))
    return failed(tool, "cannot read '" + *rel + "': " + errno_text(err));
  if (content.size() > max_read_file_bytes) {
    auto size_text = ::fstat(fd.get(), &st) == 0
                       ? std::to_string(st.st_size) + " bytes"
                       : std::string{"more than 1 MiB"};
    return failed(tool, "'" + *rel + "' is " + size_text + ", over the limit of "
                          + std::to_string(max_read_file_bytes)
                          + " bytes (1 MiB); read_file returns whole files only");
  }
  // The output is journaled as a JSON string and shown to the model: it must
  // be text. sanitize_text is used only as the check; the content is returned
  // unchanged.
  if (!sanitize_text(content))
    return failed(tool, "'" + *rel + "' is not UTF-8 text (it contains NUL bytes "
                        "or invalid UTF-8); binary files are not supported");
  return {true, std::move(content), false};
}

// -- write_file ---------------------------------------------------------------

// Writes `content` to `leaf` in the directory `dir` so that readers see the
// old file or the new one, never a mix, and the new one is on disk when this
// returns 0. Every step names its file relative to `dir`, so nothing follows
// a path the sandbox could have changed. Returns 0 or the errno; `step`
// names the failed step.
int write_atomically(int dir, const std::string& leaf, const std::string& content,
                     const char*& step) {
  static std::atomic<uint64_t> counter{0};
  auto tmp = "." + leaf + ".troupe-tmp-" + std::to_string(::getpid()) + "-"
             + std::to_string(counter.fetch_add(1));
  step = "create a temporary file";
  unique_fd fd{::openat(dir, tmp.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666)};
  if (!fd.valid())
    return errno;
  auto cleanup = [&](int err) {
    // Best effort: a leftover temp file is harmless (hidden, never read) and
    // the write error is what the caller must hear about.
    ::unlinkat(dir, tmp.c_str(), 0);
    return err;
  };
  step = "write";
  if (int err = write_all(fd.get(), content))
    return cleanup(err);
  step = "sync";
  if (::fsync(fd.get()) != 0)
    return cleanup(errno);
  step = "close";
  if (int err = fd.close_now())
    return cleanup(err);
  // renameat replaces whatever the name holds now (a symlink planted since
  // the check included) and follows nothing.
  step = "rename the temporary file over";
  if (::renameat(dir, tmp.c_str(), dir, leaf.c_str()) != 0)
    return cleanup(errno);
  // The rename is durable only once the directory entry is synced.
  step = "sync the directory of";
  if (::fsync(dir) != 0)
    return errno;
  return 0;
}

// Opens (creating) the parent directory of `t`; on failure returns the
// message.
caf::expected<unique_fd> open_parent(const target& t) {
  auto parent = t.split().first;
  unique_fd dir{make_dirs_beneath(t.root.get(), parent)};
  if (dir.valid())
    return dir;
  int err = -dir.get();
  std::string text = err == EXDEV ? escape_text(t)
                                  : "cannot create the parent directories of '" + t.rel
                                      + "': " + errno_text(err);
  return caf::make_error(runtime_errc::io_failed, std::move(text));
}

tool_outcome run_write_file(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "write_file";
  constexpr const char* does = "write_file replaces";
  auto rel = string_arg(args, "path");
  auto content = string_arg(args, "content");
  if (!rel || !content)
    return failed(tool, "arguments 'path' and 'content' must be strings");
  auto t = open_target(ctx, *rel);
  if (!t)
    return failed(tool, render(t.error()));
  if (t->norm.empty() || S_ISDIR(type_of(*t)))
    return failed(tool, "'" + *rel + "' is a directory; give a file path");
  // "notes/" means a directory; writing a file there would surprise.
  if (rel->back() == '/')
    return failed(tool, "'" + *rel + "' ends with '/'; give a file path");
  auto dir = open_parent(*t);
  if (!dir)
    return failed(tool, render(dir.error()));
  auto leaf = t->split().second;
  struct stat st{};
  if (::fstatat(dir->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode))
      return failed(tool, "'" + *rel + "' is a directory; give a file path");
    // Renaming over a link would replace the link, not the file it names.
    if (S_ISLNK(st.st_mode))
      return failed(tool, "'" + *rel + "' is a symbolic link; write_file replaces "
                          "regular files only (write to the file it points to)");
    if (!S_ISREG(st.st_mode))
      return failed(tool, not_regular(*t, st.st_mode, does));
  }
  const char* step = "";
  if (int err = write_atomically(dir->get(), leaf, *content, step)) {
    bool transient = err == EAGAIN || err == EINTR || err == EBUSY;
    return failed(tool, std::string{"cannot "} + step + " '" + *rel + "': "
                          + errno_text(err), transient);
  }
  return {true, "wrote " + std::to_string(content->size()) + " bytes to '" + *rel + "'",
          false};
}

// -- append_file --------------------------------------------------------------

// Appending is the classic unsafe effect: running the call twice leaves the
// line twice. Recovery never re-runs it (see docs/architecture.md).
tool_outcome run_append_file(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "append_file";
  constexpr const char* does = "append_file appends to";
  auto rel = string_arg(args, "path");
  auto content = string_arg(args, "content");
  if (!rel || !content)
    return failed(tool, "arguments 'path' and 'content' must be strings");
  auto t = open_target(ctx, *rel);
  if (!t)
    return failed(tool, render(t.error()));
  if (t->norm.empty())
    return failed(tool, "'" + *rel + "' is a directory; give a file path");
  auto dir = open_parent(*t);
  if (!dir)
    return failed(tool, render(dir.error()));
  unique_fd fd{open_beneath(t->root.get(), t->norm,
                            O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0644)};
  if (!fd.valid() && -fd.get() == EISDIR)
    return failed(tool, "'" + *rel + "' is a directory; give a file path");
  if (!fd.valid())
    return failed(tool, open_failure(*t, -fd.get(), "file", does));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    return failed(tool, "cannot stat '" + *rel + "': " + errno_text(errno));
  if (!S_ISREG(st.st_mode))
    return failed(tool, not_regular(*t, st.st_mode, does));
  int err = clear_nonblock(fd.get());
  if (err == 0)
    err = write_all(fd.get(), *content);
  if (err == 0 && ::fsync(fd.get()) != 0)
    err = errno;
  if (int close_err = fd.close_now(); err == 0)
    err = close_err;
  if (err != 0)
    return failed(tool, "cannot append to '" + *rel + "': " + errno_text(err));
  return {true, "appended " + std::to_string(content->size()) + " bytes to '" + *rel + "'",
          false};
}

// -- list_dir -----------------------------------------------------------------

// A file name as the model sees it: unchanged when it is printable UTF-8,
// otherwise with control and non-UTF-8 bytes escaped, so the output stays
// one entry per line and can be journaled as JSON.
std::string display_name(const std::string& name) {
  auto clean = sanitize_text(name);
  if (clean && *clean == name)
    return name;
  return escape_unprintable(name);
}

// True for a directory, and for a symlink that leads to one inside the
// workspace (resolved beneath the root, so a link out is just a name).
bool entry_is_dir(const target& t, const dirent& e) {
  if (e.d_type == DT_DIR)
    return true;
  if (e.d_type != DT_LNK && e.d_type != DT_UNKNOWN)
    return false;
  auto path = t.norm.empty() ? std::string{e.d_name} : t.norm + "/" + e.d_name;
  unique_fd fd{open_beneath(t.root.get(), path, O_PATH | O_DIRECTORY)};
  return fd.valid();
}

struct dir_closer {
  void operator()(DIR* d) const {
    ::closedir(d);
  }
};

tool_outcome run_list_dir(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "list_dir";
  std::string rel = ".";
  if (args.is_object() && args.contains("path")) {
    auto given = string_arg(args, "path");
    if (!given)
      return failed(tool, "argument 'path' must be a string");
    rel = *given;
  }
  auto t = open_target(ctx, rel);
  if (!t)
    return failed(tool, render(t.error()));
  // O_DIRECTORY: the kernel refuses anything else before calling a driver's
  // open, so a device or FIFO is never opened at all.
  unique_fd fd{open_beneath(t->root.get(), t->norm, O_RDONLY | O_DIRECTORY | O_NONBLOCK)};
  if (!fd.valid() && -fd.get() == ENOTDIR) {
    auto mode = type_of(*t);
    if (mode != 0 && !S_ISREG(mode))
      return failed(tool, "'" + rel + "' is a " + file_type_name(mode)
                            + ", not a directory");
    return failed(tool, "'" + rel + "' is not a directory; use read_file for files");
  }
  if (!fd.valid())
    return failed(tool, open_failure(*t, -fd.get(), "directory", "list_dir lists"));
  std::unique_ptr<DIR, dir_closer> dir{::fdopendir(fd.get())};
  if (!dir)
    return failed(tool, "cannot list '" + rel + "': " + errno_text(errno));
  (void)fd.release(); // closedir closes it now
  std::vector<std::string> entries;
  for (;;) {
    errno = 0;
    auto* e = ::readdir(dir.get());
    if (e == nullptr)
      break;
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    entries.push_back(display_name(name) + (entry_is_dir(*t, *e) ? "/" : ""));
  }
  if (errno != 0)
    return failed(tool, "cannot list '" + rel + "': " + errno_text(errno));
  std::sort(entries.begin(), entries.end());
  std::string out;
  auto shown = std::min(entries.size(), max_list_dir_entries);
  for (size_t i = 0; i < shown; ++i)
    out += entries[i] + "\n";
  if (entries.size() > shown)
    out += "... and " + std::to_string(entries.size() - shown)
           + " more entries (list a subdirectory to see fewer)\n";
  return {true, std::move(out), false};
}

} // namespace

tool_definition make_read_file_tool() {
  return {"read_file",
          "Reads a UTF-8 text file of the workspace (at most 1 MiB) and returns "
          "its content.",
          json{{"type", "object"},
               {"properties", {{"path", path_schema("File path relative to the "
                                                    "workspace root.")}}},
               {"required", {"path"}},
               {"additionalProperties", false}},
          tool_effect::pure, run_read_file};
}

tool_definition make_write_file_tool() {
  return {"write_file",
          "Writes content to a file of the workspace, replacing it if it exists "
          "and creating missing parent directories.",
          json{{"type", "object"},
               {"properties",
                {{"path", path_schema("File path relative to the workspace root.")},
                 {"content", {{"type", "string"},
                              {"description", "The complete new file content."}}}}},
               {"required", {"path", "content"}},
               {"additionalProperties", false}},
          tool_effect::idempotent, run_write_file};
}

tool_definition make_append_file_tool() {
  return {"append_file",
          "Appends content to a file of the workspace, creating it if missing.",
          json{{"type", "object"},
               {"properties",
                {{"path", path_schema("File path relative to the workspace root.")},
                 {"content", {{"type", "string"},
                              {"description", "The text to append."}}}}},
               {"required", {"path", "content"}},
               {"additionalProperties", false}},
          tool_effect::unsafe, run_append_file};
}

tool_definition make_list_dir_tool() {
  return {"list_dir",
          "Lists a directory of the workspace: one entry per line, sorted, "
          "directories end with '/'.",
          json{{"type", "object"},
               {"properties",
                {{"path", path_schema("Directory relative to the workspace root; "
                                      "omit it or use \".\" for the root.")}}},
               {"additionalProperties", false}},
          tool_effect::pure, run_list_dir};
}

} // namespace troupe
