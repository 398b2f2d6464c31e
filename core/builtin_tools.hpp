#pragma once
// The tools every agent has: echo, read_file, write_file, append_file,
// list_dir and complete (file tools in file_tools.cpp). Every failure,
// including a path escape, is a `tool_outcome{ok = false}` whose output
// starts with the tool name, e.g. `read_file: no such file 'notes.txt' in
// workspace`; handlers never throw.
//
// File tools see only the workspace (`tool_context::workspace_root`), and
// safely so while sandboxed commands change it concurrently: paths are
// judged by spelling (`check_workspace_spelling`), then resolved beneath a
// descriptor of the root (runtime/workspace_fd.hpp), never by name. A
// symlink is followed only when its target is relative and stays inside the
// workspace (on kernels without openat2, never). Only regular files are read,
// written or appended to, and only directories listed: anything else (FIFO,
// socket, device) is refused at once, naming the path and its type, because
// files are opened non-blocking and checked on the opened descriptor.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/error.hpp>

#include <cstddef>

#include "core/tool.hpp"
#include "core/tool_registry.hpp"

namespace troupe {

/// Largest file `read_file` returns, in bytes (1 MiB). Larger files fail
/// with a message naming the size and this limit.
constexpr size_t max_read_file_bytes = 1024 * 1024;

/// Most entries `list_dir` prints; the rest are summarized in a final line.
constexpr size_t max_list_dir_entries = 1000;

/// `echo`: any argument object; the output is that object as compact JSON. Pure.
[[nodiscard]] tool_definition make_echo_tool();

/// `read_file {path}`: the file's content. Pure. Fails for missing files,
/// directories, files over `max_read_file_bytes`, and content that is not
/// UTF-8 text (NUL bytes or invalid UTF-8), which the journal could not carry.
[[nodiscard]] tool_definition make_read_file_tool();

/// `write_file {path, content}`: replaces the file with `content`, creating
/// parent directories inside the workspace. Idempotent: the same call leaves
/// the same file. The write is atomic and durable when the tool returns
/// (temp file in the same directory, fsync, rename, fsync of the directory),
/// so readers never see a partial file and a journaled result is on disk.
/// A path whose last component is a symlink is refused: the rename would
/// replace the link, not the file it names.
[[nodiscard]] tool_definition make_write_file_tool();

/// `list_dir {path = "."}`: one entry per line (each line ends in '\n'),
/// sorted bytewise, directories (and symlinks to directories inside the
/// workspace) with a trailing '/'. An empty directory gives empty output. Pure. Names that are
/// not printable UTF-8 are shown with `\xNN` escapes.
[[nodiscard]] tool_definition make_list_dir_tool();
/// `append_file {path, content}`: appends to the file, creating it and its
/// parent directories if missing. Unsafe: never re-run by recovery.
[[nodiscard]] tool_definition make_append_file_tool();

/// `complete {status: success|failure|partial, answer}`: ends the run. The
/// handler only echoes the answer; the run loop intercepts the call. Pure.
[[nodiscard]] tool_definition make_complete_tool();

/// Adds all five tools to `registry`. Fails (with the registry's error) if
/// one of the names is already registered.
[[nodiscard]] caf::error register_builtin_tools(tool_registry& registry);

} // namespace troupe
