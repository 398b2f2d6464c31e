#pragma once
// How a sandbox's children tell the caller what happened: fixed-size
// records on a pipe (a setup step that failed, an exec that failed, the
// command's wait status), and the names of the setup stages they refer to.

#include <cstdint>
#include <string>
#include <vector>

namespace troupe::detail {

struct root_plan;

/// A setup step of a sandbox or of its command; `stage_name` says it in words.
enum class stage : int32_t {
  none = 0,
  place_fds,
  make_private,
  clone_tree,
  set_attr,
  mount_root,
  make_dir,
  mount_proc,
  make_symlink,
  mount_tmpfs,
  make_file,
  userns_helper,
  write_id_map,
  idmap_attr,
  move_mount,
  pivot_root,
  remount_root,
  fork_command,
  chdir_cwd,
  set_rlimit,
  drop_uid,
  no_new_privs,
  seccomp_filter,
  probe_write,
  session_keyring,
};

[[nodiscard]] const char* stage_name(stage s);

enum class report_kind : int32_t { setup_failed = 1, exec_failed, exited };

// Written with one write() of less than PIPE_BUF bytes, so records from the
// init and the command child never interleave.
struct child_report {
  report_kind kind;
  stage where;
  int32_t step; // index into the root plan's steps, or -1
  int32_t err;  // errno
  int32_t status; // wait status (exited)
};

/// Writes one record to `fd`. Async-signal-safe: children call it.
void send_report(int fd, report_kind kind, stage where, int step, int err,
                 int status = 0);

/// Reports the current errno as the failure of `where` (and root plan step
/// `step`, if any) and returns false. Async-signal-safe.
bool fail(int report_fd, stage where, int step = -1);

/// The records in `bytes`; a partial record at the end is dropped.
[[nodiscard]] std::vector<child_report> parse_reports(const std::string& bytes);

/// "sandbox setup failed while <stage> for <target> (from <source>): <errno>";
/// the step is looked up in `plan` when it is not null.
[[nodiscard]] std::string describe_setup_failure(const child_report& r,
                                                 const root_plan* plan);

} // namespace troupe::detail
