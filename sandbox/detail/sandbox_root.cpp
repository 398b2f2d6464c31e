#include "sandbox/detail/sandbox_root.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_report.hpp"

namespace troupe::detail {

namespace fs = std::filesystem;

namespace {

// System directories the sandbox sees read-only. /etc is included because
// programs need passwd, nsswitch, ld.so.cache, ssl certificates; its secrets
// (shadow, keys) are root-only files the sandbox uid cannot read.
constexpr const char* system_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32",
                                       "/lib64", "/libx32", "/etc"};
constexpr const char* dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

root_step make_step(root_step::kind what, std::string source, std::string target,
                    std::string data = {}, unsigned long flags = 0) {
  root_step s;
  s.what = what;
  s.source = std::move(source);
  s.target = std::move(target);
  s.data = std::move(data);
  s.flags = flags;
  return s;
}

void add_step(root_plan& plan, root_step step) {
  step.staged = plan.staging + step.target;
  bool is_dir = step.what != root_step::kind::symlink && !step.file_target;
  step.mkdirs = dirs_down_to(plan.staging, step.target, is_dir);
  plan.steps.push_back(std::move(step));
}

} // namespace

bool in_system_dirs(const fs::path& p) {
  for (const char* dir : system_dirs) {
    fs::path base{dir};
    auto [b, q] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
    (void)q;
    if (b == base.end())
      return true;
  }
  return false;
}

std::vector<std::string> dirs_down_to(const std::string& prefix,
                                      const fs::path& target, bool include_self) {
  std::vector<std::string> out;
  fs::path acc = "/";
  std::vector<fs::path> parts(++target.begin(), target.end());
  if (!include_self && !parts.empty())
    parts.pop_back();
  for (const auto& part : parts) {
    acc /= part;
    out.push_back(prefix + acc.string());
  }
  return out;
}

caf::expected<root_plan> prepare_root(const std::vector<fs::path>& roots,
                                      const std::vector<fs::path>& read_only,
                                      const sandbox_limits& limits, uint32_t uid) {
  root_plan plan;
  plan.uid = uid;
  plan.staging = "/tmp";
  std::error_code ec;
  if (!fs::is_directory(plan.staging, ec))
    return sandbox_error(sandbox_errc::unavailable,
                         "sandbox: the host has no /tmp directory to build the "
                         "sandbox root on");
  plan.proc_staged = plan.staging + "/proc";
  using kind = root_step::kind;
  add_step(plan, make_step(kind::proc, "", "/proc"));
  for (const char* dir : system_dirs) {
    struct stat st{};
    if (lstat(dir, &st) != 0)
      continue;
    if (S_ISLNK(st.st_mode)) {
      auto link = fs::read_symlink(dir, ec);
      if (!ec)
        add_step(plan, make_step(kind::symlink, link.string(), dir));
    } else if (S_ISDIR(st.st_mode)) {
      add_step(plan, make_step(kind::bind_ro, dir, dir));
    }
  }
  add_step(plan, make_step(kind::tmpfs, "", "/dev", "mode=0755,size=64k",
                           MS_NOSUID | MS_NOEXEC));
  for (const char* node : dev_nodes) {
    std::string host = std::string{"/dev/"} + node;
    struct stat st{};
    if (stat(host.c_str(), &st) != 0 || !S_ISCHR(st.st_mode))
      continue;
    auto step = make_step(kind::bind_dev, host, host);
    step.file_target = true;
    add_step(plan, std::move(step));
  }
  add_step(plan, make_step(kind::symlink, "/proc/self/fd", "/dev/fd"));
  add_step(plan, make_step(kind::symlink, "/proc/self/fd/0", "/dev/stdin"));
  add_step(plan, make_step(kind::symlink, "/proc/self/fd/1", "/dev/stdout"));
  add_step(plan, make_step(kind::symlink, "/proc/self/fd/2", "/dev/stderr"));
  add_step(plan, make_step(kind::tmpfs, "", "/tmp",
                           "mode=1777,size="
                             + std::to_string(std::max<uint64_t>(limits.tmp_bytes, 4096)),
                           MS_NOSUID | MS_NODEV));
  // Read-only roots before writable ones: a writable root inside a read-only
  // one is mounted on top of it (its mount point exists in the read-only
  // bind, so creating it finds EEXIST, not EROFS). Normalization dropped
  // read-only roots inside writable ones.
  for (const auto& root : read_only) {
    struct stat st{};
    if (stat(root.c_str(), &st) != 0)
      return sandbox_error(sandbox_errc::invalid_request,
                           "sandbox: read-only root '" + root.string()
                             + "': " + errno_text(errno));
    auto step = make_step(kind::bind_ro, root.string(), root.string());
    step.file_target = !S_ISDIR(st.st_mode);
    add_step(plan, std::move(step));
  }
  for (const auto& root : roots) {
    struct stat st{};
    if (stat(root.c_str(), &st) != 0)
      return sandbox_error(sandbox_errc::invalid_request,
                           "sandbox: writable root '" + root.string()
                             + "': " + errno_text(errno));
    auto step = make_step(kind::bind_rw, root.string(), root.string());
    step.owner_uid = st.st_uid;
    step.owner_gid = st.st_gid;
    add_step(plan, std::move(step));
  }
  return plan;
}

// -- code that runs in children: system calls only ----------------------------

bool make_dirs(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs)
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  return true;
}

namespace {

// Async-signal-safe decimal formatting into `out` (at least 12 bytes);
// returns the end.
char* put_uint(char* out, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0)
    *out++ = tmp[--n];
  return out;
}

char* put_str(char* out, const char* s) {
  while (*s != '\0')
    *out++ = *s++;
  return out;
}

bool write_all_fd(int fd, const char* data, size_t n) {
  while (n > 0) {
    auto k = write(fd, data, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    data += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool write_id_map(const char* proc, pid_t pid, const char* file, uint32_t inside,
                  uint32_t outside) {
  char path[128];
  char* e = put_str(path, proc);
  *e++ = '/';
  e = put_uint(e, static_cast<uint64_t>(pid));
  *e++ = '/';
  e = put_str(e, file);
  *e = '\0';
  char line[64];
  char* l = put_uint(line, inside);
  *l++ = ' ';
  l = put_uint(l, outside);
  l = put_str(l, " 1\n");
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = write_all_fd(fd, line, static_cast<size_t>(l - line));
  int saved = errno;
  close(fd);
  errno = saved;
  return ok;
}

// A user namespace mapping the root's on-disk owner to the sandbox uid: an
// idmapped mount through it shows the owner's files as the sandbox uid's, and
// stores the sandbox uid's new files as the owner's. Only a process can
// create a user namespace, so a helper child enters one, waits while we
// write its maps and open its namespace file, and exits.
int make_userns(const root_plan& plan, const root_step& step) {
  int ready[2];
  int hold[2];
  if (pipe2(ready, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(hold, O_CLOEXEC) != 0) {
    close(ready[0]);
    close(ready[1]);
    return -1;
  }
  pid_t helper = raw_clone(0);
  if (helper == 0) {
    close(ready[0]);
    close(hold[1]);
    if (unshare(CLONE_NEWUSER) != 0)
      _exit(1);
    char c = 'u';
    if (write(ready[1], &c, 1) != 1)
      _exit(1);
    (void)!read(hold[0], &c, 1); // returns when the parent closes its end
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  int ns = -1;
  char c = 0;
  int saved = 0;
  if (helper > 0 && read(ready[0], &c, 1) == 1
      && write_id_map(plan.proc_staged.c_str(), helper, "uid_map", step.owner_uid,
                      plan.uid)
      && write_id_map(plan.proc_staged.c_str(), helper, "gid_map", step.owner_gid,
                      plan.uid)) {
    char path[128];
    char* e = put_str(path, plan.proc_staged.c_str());
    *e++ = '/';
    e = put_uint(e, static_cast<uint64_t>(helper));
    e = put_str(e, "/ns/user");
    *e = '\0';
    ns = open(path, O_RDONLY | O_CLOEXEC);
  }
  saved = errno;
  close(ready[0]);
  close(hold[1]);
  if (helper > 0)
    while (waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
  errno = saved;
  return ns;
}

bool clone_sources(root_plan& plan, int rfd) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    auto& s = plan.steps[i];
    int step = static_cast<int>(i);
    using kind = root_step::kind;
    if (s.what != kind::bind_ro && s.what != kind::bind_dev && s.what != kind::bind_rw)
      continue;
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
    if (s.what == kind::bind_ro)
      flags |= AT_RECURSIVE; // /etc may hold bind-mounted files (hosts, resolv.conf)
    s.fd = open_tree(AT_FDCWD, s.source.c_str(), flags);
    if (s.fd < 0)
      return fail(rfd, stage::clone_tree, step);
    mount_attr attr{};
    unsigned at = AT_EMPTY_PATH;
    if (s.what == kind::bind_ro) {
      attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      at |= AT_RECURSIVE;
    } else if (s.what == kind::bind_dev) {
      attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    } else {
      continue; // bind_rw: idmapped once /proc exists
    }
    if (mount_setattr(s.fd, "", at, &attr, sizeof attr) != 0)
      return fail(rfd, stage::set_attr, step);
  }
  return true;
}

bool attach_rw(root_plan& plan, size_t i, int rfd) {
  auto& s = plan.steps[i];
  int step = static_cast<int>(i);
  for (size_t j = 0; j < i; ++j) {
    const auto& prev = plan.steps[j];
    if (prev.userns_fd >= 0 && prev.owner_uid == s.owner_uid
        && prev.owner_gid == s.owner_gid)
      s.userns_fd = prev.userns_fd;
  }
  if (s.userns_fd < 0)
    s.userns_fd = make_userns(plan, s);
  if (s.userns_fd < 0)
    return fail(rfd, stage::userns_helper, step);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.userns_fd = static_cast<uint64_t>(s.userns_fd);
  if (mount_setattr(s.fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
    return fail(rfd, stage::idmap_attr, step);
  return true;
}

bool place_step(root_plan& plan, size_t i, int rfd) {
  auto& s = plan.steps[i];
  int step = static_cast<int>(i);
  using kind = root_step::kind;
  if (!make_dirs(s.mkdirs))
    return fail(rfd, stage::make_dir, step);
  switch (s.what) {
    case kind::proc:
      if (mount("proc", s.staged.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr)
          != 0)
        return fail(rfd, stage::mount_proc, step);
      return true;
    case kind::symlink:
      if (symlink(s.source.c_str(), s.staged.c_str()) != 0)
        return fail(rfd, stage::make_symlink, step);
      return true;
    case kind::tmpfs:
      if (mount("tmpfs", s.staged.c_str(), "tmpfs", s.flags, s.data.c_str()) != 0)
        return fail(rfd, stage::mount_tmpfs, step);
      return true;
    case kind::bind_rw:
      if (!attach_rw(plan, i, rfd))
        return false;
      break;
    case kind::bind_ro:
    case kind::bind_dev:
      break;
  }
  if (s.file_target) {
    int fd = open(s.staged.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
      return fail(rfd, stage::make_file, step);
    close(fd);
  }
  if (move_mount(s.fd, "", AT_FDCWD, s.staged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return fail(rfd, stage::move_mount, step);
  close(s.fd);
  s.fd = -1;
  return true;
}

} // namespace

bool build_root(root_plan& plan, int rfd) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return fail(rfd, stage::make_private);
  // Clone every source before the new root covers the staging directory
  // (a writable root may live below it).
  if (!clone_sources(plan, rfd))
    return false;
  if (mount("tmpfs", plan.staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
            "mode=0755,size=1m,nr_inodes=8192")
      != 0)
    return fail(rfd, stage::mount_root);
  for (size_t i = 0; i < plan.steps.size(); ++i)
    if (!place_step(plan, i, rfd))
      return false;
  for (auto& s : plan.steps)
    if (s.userns_fd >= 0) {
      int fd = s.userns_fd;
      for (auto& other : plan.steps)
        if (other.userns_fd == fd)
          other.userns_fd = -1;
      close(fd);
    }
  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves no path back to the host's tree.
  if (chdir(plan.staging.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0
      || umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
    return fail(rfd, stage::pivot_root);
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr)
      != 0)
    return fail(rfd, stage::remount_root);
  (void)sethostname("sandbox", 7);
  return true;
}

} // namespace troupe::detail
