#include "sandbox/detail/sandbox_report.hpp"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_root.hpp"

namespace troupe::detail {

const char* stage_name(stage s) {
  switch (s) {
    case stage::none: return "startup";
    case stage::place_fds: return "placing stdin/stdout/stderr";
    case stage::make_private: return "making the mount tree private";
    case stage::clone_tree: return "cloning a mount (open_tree)";
    case stage::set_attr: return "making a mount read-only/nosuid (mount_setattr)";
    case stage::mount_root: return "mounting the new root tmpfs";
    case stage::make_dir: return "creating a mount point";
    case stage::mount_proc: return "mounting /proc";
    case stage::make_symlink: return "creating a symlink";
    case stage::mount_tmpfs: return "mounting a tmpfs";
    case stage::make_file: return "creating a file mount point";
    case stage::userns_helper: return "creating the user namespace for an idmapped mount";
    case stage::write_id_map: return "writing uid_map/gid_map";
    case stage::idmap_attr: return "idmapping a writable root (mount_setattr MOUNT_ATTR_IDMAP)";
    case stage::move_mount: return "attaching a mount (move_mount)";
    case stage::pivot_root: return "pivot_root into the new root";
    case stage::remount_root: return "remounting the root read-only";
    case stage::fork_command: return "forking the command";
    case stage::chdir_cwd: return "changing to the working directory";
    case stage::set_rlimit: return "setting rlimits";
    case stage::drop_uid: return "switching to the sandbox uid";
    case stage::session_keyring: return "joining an empty session keyring";
    case stage::no_new_privs: return "setting no_new_privs";
    case stage::seccomp_filter: return "installing the seccomp filter";
    case stage::probe_write: return "writing the probe file as the sandbox uid";
  }
  return "unknown stage";
}

void send_report(int fd, report_kind kind, stage where, int step, int err, int status) {
  child_report r{kind, where, step, err, status};
  while (write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

bool fail(int report_fd, stage where, int step) {
  send_report(report_fd, report_kind::setup_failed, where, step, errno);
  return false;
}

std::vector<child_report> parse_reports(const std::string& bytes) {
  std::vector<child_report> out;
  for (size_t i = 0; i + sizeof(child_report) <= bytes.size(); i += sizeof(child_report)) {
    child_report r{};
    std::memcpy(&r, bytes.data() + i, sizeof r);
    out.push_back(r);
  }
  return out;
}

std::string describe_setup_failure(const child_report& r, const root_plan* plan) {
  std::string msg = "sandbox setup failed while ";
  msg += stage_name(r.where);
  if (plan != nullptr && r.step >= 0 && static_cast<size_t>(r.step) < plan->steps.size()) {
    const auto& s = plan->steps[static_cast<size_t>(r.step)];
    msg += " for " + s.target;
    if (!s.source.empty() && s.source != s.target)
      msg += " (from " + s.source + ")";
  }
  msg += ": " + errno_text(r.err);
  return msg;
}

} // namespace troupe::detail
