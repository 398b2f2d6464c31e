#include "runtime/builtin_tools.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/envelope.hpp"
#include "runtime/workspace.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;

tool_outcome failed(const char* tool, const std::string& what, bool retryable = false) {
  return {false, std::string{tool} + ": " + what, retryable};
}

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Handlers normally get envelope-checked arguments; this keeps a direct call
// with the wrong shape from throwing out of nlohmann.
std::optional<std::string> string_arg(const json& args, const char* key) {
  if (!args.is_object())
    return std::nullopt;
  auto it = args.find(key);
  if (it == args.end() || !it->is_string())
    return std::nullopt;
  return it->get<std::string>();
}

json path_schema(const char* description) {
  return {{"type", "string"}, {"minLength", 1}, {"description", description}};
}

// -- POSIX I/O: std::fstream cannot fsync, nor tell why an open failed -------

class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {
    // nop
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const {
    return fd_;
  }
  // Closes now and reports the result: close can report a deferred write error.
  int release_and_close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

private:
  int fd_;
};

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

// -- echo ---------------------------------------------------------------------

tool_outcome run_echo(const json& args, const tool_context&) {
  return {true, args.dump(-1, ' ', false, json::error_handler_t::replace), false};
}

// -- read_file ----------------------------------------------------------------

tool_outcome run_read_file(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "read_file";
  auto rel = string_arg(args, "path");
  if (!rel)
    return failed(tool, "argument 'path' must be a string");
  auto path = resolve_in_workspace(ctx.workspace_root, *rel);
  if (!path)
    return failed(tool, render(path.error()));
  std::error_code ec;
  auto st = fs::status(*path, ec);
  if (st.type() == fs::file_type::not_found)
    return failed(tool, "no such file '" + *rel + "' in workspace");
  if (ec)
    return failed(tool, "cannot access '" + *rel + "': " + ec.message());
  if (fs::is_directory(st))
    return failed(tool, "'" + *rel + "' is a directory; use list_dir to see its entries");
  if (!fs::is_regular_file(st))
    return failed(tool, "'" + *rel + "' is not a regular file");
  // O_NOFOLLOW: the resolved path has no symlinks left; one appearing now
  // was planted after the check and is refused.
  fd_guard fd{::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (fd.get() < 0)
    return failed(tool, "cannot open '" + *rel + "': " + errno_text(errno));
  std::string content;
  // One byte past the cap tells "exactly at the limit" from "over it", also
  // when the file grew after any size check.
  if (int err = read_up_to(fd.get(), max_read_file_bytes + 1, content))
    return failed(tool, "cannot read '" + *rel + "': " + errno_text(err));
  if (content.size() > max_read_file_bytes) {
    auto size = fs::file_size(*path, ec);
    auto size_text = ec ? std::string{"more than 1 MiB"} : std::to_string(size) + " bytes";
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

// Writes `content` to `target` so that readers see the old file or the new
// one, never a mix, and the new one is on disk when this returns 0.
// Returns 0 or the errno; `step` names the failed step.
int write_atomically(const fs::path& target, const std::string& content,
                     const char*& step) {
  static std::atomic<uint64_t> counter{0};
  auto dir = target.parent_path();
  auto tmp = dir / ("." + target.filename().string() + ".troupe-tmp-"
                    + std::to_string(::getpid()) + "-"
                    + std::to_string(counter.fetch_add(1)));
  step = "create a temporary file";
  fd_guard fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     0666)};
  if (fd.get() < 0)
    return errno;
  auto cleanup = [&](int err) {
    std::error_code ignored;
    // Best effort: a leftover temp file is harmless (hidden, never read) and
    // the write error is what the caller must hear about.
    fs::remove(tmp, ignored);
    return err;
  };
  step = "write";
  if (int err = write_all(fd.get(), content))
    return cleanup(err);
  step = "sync";
  if (::fsync(fd.get()) != 0)
    return cleanup(errno);
  step = "close";
  if (fd.release_and_close() != 0)
    return cleanup(errno);
  step = "rename the temporary file over";
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    return cleanup(errno);
  // The rename is durable only once the directory entry is synced.
  step = "sync the directory of";
  fd_guard dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0)
    return errno;
  return 0;
}

tool_outcome run_write_file(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "write_file";
  auto rel = string_arg(args, "path");
  auto content = string_arg(args, "content");
  if (!rel || !content)
    return failed(tool, "arguments 'path' and 'content' must be strings");
  auto path = resolve_in_workspace(ctx.workspace_root, *rel);
  if (!path)
    return failed(tool, render(path.error()));
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(*path, ec)))
    return failed(tool, "'" + *rel + "' is a directory; give a file path");
  // "notes/" means a directory; writing a file there would surprise.
  if (rel->back() == '/')
    return failed(tool, "'" + *rel + "' ends with '/'; give a file path");
  fs::create_directories(path->parent_path(), ec);
  if (ec)
    return failed(tool, "cannot create the parent directories of '" + *rel
                          + "': " + ec.message());
  const char* step = "";
  if (int err = write_atomically(*path, *content, step)) {
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
  auto rel = string_arg(args, "path");
  auto content = string_arg(args, "content");
  if (!rel || !content)
    return failed(tool, "arguments 'path' and 'content' must be strings");
  auto path = resolve_in_workspace(ctx.workspace_root, *rel);
  if (!path)
    return failed(tool, render(path.error()));
  std::error_code ec;
  fs::create_directories(path->parent_path(), ec);
  if (ec)
    return failed(tool, "cannot create the parent directories of '" + *rel
                          + "': " + ec.message());
  int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                  0644);
  if (fd < 0)
    return failed(tool, "cannot open '" + *rel + "': " + errno_text(errno));
  size_t done = 0;
  int err = 0;
  while (done < content->size()) {
    auto n = ::write(fd, content->data() + done, content->size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0)
    err = errno;
  ::close(fd);
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
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

tool_outcome run_list_dir(const json& args, const tool_context& ctx) {
  constexpr const char* tool = "list_dir";
  std::string rel = ".";
  if (args.is_object() && args.contains("path")) {
    auto given = string_arg(args, "path");
    if (!given)
      return failed(tool, "argument 'path' must be a string");
    rel = *given;
  }
  auto path = resolve_in_workspace(ctx.workspace_root, rel);
  if (!path)
    return failed(tool, render(path.error()));
  std::error_code ec;
  auto st = fs::status(*path, ec);
  if (st.type() == fs::file_type::not_found)
    return failed(tool, "no such directory '" + rel + "' in workspace");
  if (!fs::is_directory(st))
    return failed(tool, "'" + rel + "' is not a directory; use read_file for files");
  std::vector<std::string> entries;
  fs::directory_iterator it{*path, ec};
  for (; !ec && it != fs::directory_iterator{}; it.increment(ec)) {
    std::error_code type_ec;
    bool is_dir = it->is_directory(type_ec);
    entries.push_back(display_name(it->path().filename().string())
                      + (is_dir ? "/" : ""));
  }
  if (ec)
    return failed(tool, "cannot list '" + rel + "': " + ec.message());
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

// -- complete -----------------------------------------------------------------

tool_outcome run_complete(const json& args, const tool_context&) {
  auto answer = string_arg(args, "answer");
  if (!answer)
    return failed("complete", "argument 'answer' must be a string");
  return {true, std::move(*answer), false};
}

} // namespace

tool_definition make_echo_tool() {
  return {"echo",
          "Returns its arguments as compact JSON. Useful to test tool calling.",
          json{{"type", "object"}}, tool_effect::pure, run_echo};
}

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

tool_definition make_complete_tool() {
  return {"complete",
          "Ends the task. Call it exactly once, when done, with the final answer.",
          json{{"type", "object"},
               {"properties",
                {{"status", {{"type", "string"},
                             {"enum", {"success", "failure", "partial"}},
                             {"description", "How the task ended."}}},
                 {"answer", {{"type", "string"},
                             {"description", "The final answer for the user."}}}}},
               {"required", {"status", "answer"}},
               {"additionalProperties", false}},
          tool_effect::pure, run_complete};
}

caf::error register_builtin_tools(tool_registry& registry) {
  for (auto make : {make_echo_tool, make_read_file_tool, make_write_file_tool,
                    make_append_file_tool, make_list_dir_tool, make_complete_tool})
    if (auto err = registry.add(make()))
      return err;
  return caf::none;
}

} // namespace troupe
