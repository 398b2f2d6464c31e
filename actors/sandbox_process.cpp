#include "actors/sandbox_process.hpp"

#include "schemas/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// Process structure of a cold call:
//
//   caller thread ── clone(new pid/mnt/ipc/uts[/net] ns) ──> init (pid 1)
//                                                  builds the root
//                                                  clone(CLONE_VM|CLONE_VFORK)
//                                                    └──> command (execve)
//
// The init reports through a pipe (fd 3 inside) as fixed-size records: a
// setup step that failed (stage, step, errno), an exec that failed (errno,
// written by the command child before _exit), and finally the command's
// wait status. When the command exits the init exits too, and the kernel
// kills whatever else the call left in the pid namespace. The caller kills
// the init on timeout, which has the same effect.
//
// A pool worker (resident_sandbox) is the init of a long-lived sandbox: it
// starts one command child per call, each in its own IPC namespace; after
// each call it kills every other process of its pid namespace with
// kill(-1, SIGKILL), which pid 1 may do, and replaces /tmp with an empty
// tmpfs once the reply is out.

namespace troupe {

namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

caf::error sandbox_error(sandbox_errc code, std::string msg) {
  return caf::make_error(code, std::move(msg));
}

std::string errno_text(int err) {
  return std::error_code{err, std::generic_category()}.message();
}

uint64_t micros_since(clock_type::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0)
      .count());
}

// -- child reports -----------------------------------------------------------

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
  fresh_namespaces,
  chdir_cwd,
  set_rlimit,
  drop_uid,
  no_new_privs,
  seccomp_filter,
  probe_write,
};

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
    case stage::fresh_namespaces: return "entering a per-call IPC namespace";
    case stage::chdir_cwd: return "changing to the working directory";
    case stage::set_rlimit: return "setting rlimits";
    case stage::drop_uid: return "switching to the sandbox uid";
    case stage::no_new_privs: return "setting no_new_privs";
    case stage::seccomp_filter: return "installing the seccomp filter";
    case stage::probe_write: return "writing the probe file as the sandbox uid";
  }
  return "unknown stage";
}

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

void send_report(int fd, report_kind kind, stage where, int step, int err,
                 int status = 0) {
  child_report r{kind, where, step, err, status};
  while (write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

// fork() without glibc's atfork handlers: the cold path forks from a
// multi-threaded caller, where those handlers (and malloc) may find locks
// held by threads that do not exist in the child.
pid_t raw_clone(unsigned long flags) {
  return static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr,
                                    nullptr, 0));
}

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

// -- plans: everything a child needs, prepared before the fork ---------------

struct root_step {
  enum class kind : uint8_t { proc, bind_ro, bind_dev, bind_rw, symlink, tmpfs };
  kind what = kind::tmpfs;
  std::string source; // host path to bind, or a symlink's target
  std::string target; // path inside the sandbox
  std::string staged; // where the target is while the root is built
  std::string data;   // tmpfs options
  unsigned long flags = 0;
  std::vector<std::string> mkdirs; // staged directories to create first
  bool file_target = false;        // a file bind: the mount point is a file
  uid_t owner_uid = 0;             // bind_rw: on-disk owner shown as the sandbox uid
  gid_t owner_gid = 0;
  int fd = -1;        // set by the child
  int userns_fd = -1; // set by the child
};

struct root_plan {
  std::string staging; // host directory the new root is mounted on
  std::string proc_staged;
  std::vector<root_step> steps;
  uint32_t uid = 0;
};

struct exec_plan {
  std::vector<std::string> arg_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<std::string> search; // PATH entries, when argv[0] has no '/'
  std::string cwd;
  sandbox_limits limits;
  // Signals the caller ignores: exec keeps SIG_IGN (not handlers), so these
  // must be reset for the command. Bit n-1 stands for signal n.
  uint64_t ignored_signals = 0;
  bool drop = false;
  uint32_t uid = 0;
  // Pool calls: a fresh IPC namespace per call, so SysV IPC objects of one
  // call never reach the next (the cold path's whole sandbox is fresh).
  bool new_ipc = false;
  // Probe: instead of exec, create and remove this file, then exit 0.
  std::string probe_file;
  // dup2'd onto 0, 1, 2 when >= 0.
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  int report_fd = -1;
};

// The directories from the first component of `target` down to its parent
// (or to itself with `include_self`), with `prefix` put in front.
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

caf::expected<root_plan> prepare_root(const std::vector<fs::path>& roots,
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

std::vector<std::string> split_path_var(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto end = value.find(':', start);
    auto part = value.substr(start, end == std::string::npos ? end : end - start);
    out.push_back(part.empty() ? "." : part); // POSIX: empty means the cwd
    if (end == std::string::npos)
      return out;
    start = end + 1;
  }
}

// Signals this process ignores (see exec_plan::ignored_signals).
uint64_t ignored_signals() {
  uint64_t mask = 0;
  for (int s = 1; s < NSIG && s <= 64; ++s) {
    struct sigaction old{};
    if (sigaction(s, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO)
        && old.sa_handler == SIG_IGN)
      mask |= uint64_t{1} << (s - 1);
  }
  return mask;
}

exec_plan prepare_exec(const sandbox_request& req, bool drop, uint32_t uid,
                       bool new_ipc, uint64_t ignored) {
  exec_plan p;
  p.ignored_signals = ignored;
  p.arg_storage = req.argv;
  for (const auto& [key, value] : req.env)
    p.env_storage.push_back(key + "=" + value);
  for (auto& a : p.arg_storage)
    p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage)
    p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  if (req.argv.front().find('/') == std::string::npos) {
    auto path = req.env.find("PATH");
    p.search = split_path_var(path != req.env.end() ? path->second : "/usr/bin:/bin");
  }
  p.cwd = req.cwd.string();
  p.limits = req.limits;
  p.drop = drop;
  p.uid = uid;
  p.new_ipc = new_ipc;
  return p;
}

// -- code that runs in children: system calls only ----------------------------

bool fail(int report_fd, stage where, int step = -1) {
  send_report(report_fd, report_kind::setup_failed, where, step, errno);
  return false;
}

bool make_dirs(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs)
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
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

// Builds the root described by `plan` and makes it the root of the calling
// process, which must be alone in fresh mount and pid namespaces.
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

// Moves fds 0..2 of the command into place even when the sources overlap
// the destinations.
bool place_stdio(int in, int out, int err) {
  int src[3] = {in, out, err};
  for (int& fd : src)
    if (fd >= 0 && fd < 10) {
      fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
      if (fd < 0)
        return false;
    }
  for (int i = 0; i < 3; ++i)
    if (src[i] >= 0 && dup2(src[i], i) != i)
      return false;
  return true;
}

bool set_limit(int resource, uint64_t soft, uint64_t hard) {
  rlimit rl{soft == 0 ? RLIM_INFINITY : soft, hard == 0 ? RLIM_INFINITY : hard};
  return setrlimit(resource, &rl) == 0;
}

// Denies what namespaces do not contain but a sandboxed command never
// needs, each a large kernel attack surface: creating user namespaces (in
// one it would be root, able to mount and to reach code paths unprivileged
// users cannot), BPF, perf events, userfaultfd, io_uring. clone3 hides its
// flags in memory a filter cannot read, so it fails with ENOSYS and libc
// falls back to clone, whose flags the filter checks.
bool install_seccomp_filter() {
#if defined(__x86_64__)
  constexpr uint32_t deny = SECCOMP_RET_ERRNO | EPERM;
  constexpr uint32_t no_sys = SECCOMP_RET_ERRNO | ENOSYS;
  constexpr uint32_t arg0 = offsetof(seccomp_data, args); // low half on x86_64
  sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, deny), // another ABI (i386 via int 0x80)
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1), // x32 ABI
    BPF_STMT(BPF_RET | BPF_K, deny),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, no_sys),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg0),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 7),
    BPF_STMT(BPF_RET | BPF_K, deny),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bpf, 4, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, deny),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
#else
  return true; // TODO(security): filters for other architectures
#endif
}

[[noreturn]] void setup_exit(int rfd, stage where) {
  send_report(rfd, report_kind::setup_failed, where, -1, errno);
  _exit(125);
}

[[noreturn]] void exec_command(exec_plan& p) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Ignored signals survive exec (handlers do not); the caller may ignore
  // SIGPIPE, which would change how pipelines in the command end.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s <= 64; ++s)
    if (p.ignored_signals & (uint64_t{1} << (s - 1)))
      sigaction(s, &dfl, nullptr);
  int rfd = p.report_fd;
  if (!place_stdio(p.in_fd, p.out_fd, p.err_fd))
    setup_exit(rfd, stage::place_fds);
  // Nothing else of ours reaches the command; the report fd stays usable
  // until exec succeeds.
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  setsid();
  if (p.new_ipc && unshare(CLONE_NEWIPC) != 0)
    setup_exit(rfd, stage::fresh_namespaces);
  if (chdir(p.cwd.c_str()) != 0)
    setup_exit(rfd, stage::chdir_cwd);
  const auto& l = p.limits;
  uint64_t cpu = l.cpu_seconds;
  if (!set_limit(RLIMIT_CPU, cpu, cpu == 0 ? 0 : cpu + 1)
      || !set_limit(RLIMIT_AS, l.address_space_bytes, l.address_space_bytes)
      || !set_limit(RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes)
      || !set_limit(RLIMIT_NOFILE, l.open_files, l.open_files)
      || !set_limit(RLIMIT_NPROC, l.processes, l.processes))
    setup_exit(rfd, stage::set_rlimit);
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (p.drop) {
    // Leaving uid 0 for a non-zero uid clears every capability. Raw system
    // calls: glibc's wrappers first signal every thread the process had
    // (setxid broadcast), and a copy of a multi-threaded caller believes it
    // still has them; it can block forever on a thread that was starting.
    gid_t g = p.uid;
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, g, g, g) != 0
        || syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
      setup_exit(rfd, stage::drop_uid);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    setup_exit(rfd, stage::no_new_privs);
  if (p.drop && !install_seccomp_filter())
    setup_exit(rfd, stage::seccomp_filter);
  if (!p.probe_file.empty()) {
    int fd = open(p.probe_file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || (p.drop && getuid() != p.uid))
      setup_exit(rfd, stage::probe_write);
    close(fd);
    unlink(p.probe_file.c_str());
    _exit(0);
  }
  int err = ENOENT;
  if (p.search.empty()) {
    execve(p.argv[0], p.argv.data(), p.envp.data());
    err = errno;
  } else {
    bool denied = false;
    for (const auto& dir : p.search) {
      char path[4096];
      size_t dl = dir.size();
      size_t nl = std::strlen(p.argv[0]);
      if (dl + nl + 2 > sizeof path)
        continue;
      std::memcpy(path, dir.data(), dl);
      path[dl] = '/';
      std::memcpy(path + dl + 1, p.argv[0], nl + 1);
      execve(path, p.argv.data(), p.envp.data());
      if (errno == EACCES)
        denied = true;
      else if (errno != ENOENT && errno != ENOTDIR)
        err = errno;
    }
    if (denied && err == ENOENT)
      err = EACCES;
  }
  send_report(rfd, report_kind::exec_failed, stage::none, -1, err);
  _exit(err == ENOENT ? 127 : 126);
}

int command_entry(void* plan) {
  exec_command(*static_cast<exec_plan*>(plan));
}

// Starts the command in a child that shares our memory until it execs
// (CLONE_VM | CLONE_VFORK): no page tables to copy, which is most of what a
// fork costs here. We resume once the child has exec'd or exited.
pid_t spawn_command(exec_plan& p) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizers cannot follow a child onto a stack of ours (they report its
  // first noreturn call as an overflow); a plain fork is slower but clean.
  pid_t pid = raw_clone(0);
  if (pid == 0)
    exec_command(p);
  return pid;
#endif
  // Only single-threaded processes get here (a cold sandbox's init, a pool
  // worker), and each waits for its child, so one stack per process does.
  // mmap rather than a global array: sanitizers instrument globals and
  // report the child's frames on it as overflows.
  constexpr size_t stack_size = 256 * 1024;
  static void* stack = MAP_FAILED;
  if (stack == MAP_FAILED)
    stack = mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return -1;
  return clone(command_entry, static_cast<char*>(stack) + stack_size,
               CLONE_VM | CLONE_VFORK | SIGCHLD, &p);
}

// -- the caller's side: feeding stdin, collecting output ---------------------

struct pump_io {
  int in_w = -1;
  int out_r = -1;
  int err_r = -1;
  int report_r = -1;
  int anchor = -1; // pidfd: readable when the command's main process exits
  int abort = -1;  // readable when whoever waits for the result has gone
};

struct pump_result {
  std::string out;
  std::string err;
  std::string reports;
  uint64_t out_total = 0;
  uint64_t err_total = 0;
  bool timed_out = false;
  bool aborted = false;
};

void close_fd(int& fd) {
  if (fd >= 0)
    close(fd);
  fd = -1;
}

// Reads what is available, keeping up to `cap` bytes in `keep` and counting
// all; closes `fd` at EOF or on an error.
void drain(int& fd, std::string* keep, uint64_t* total, uint64_t cap) {
  char buf[65536];
  for (int i = 0; i < 16; ++i) { // bounded, so one stream cannot starve the rest
    auto n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n <= 0) {
      close_fd(fd);
      return;
    }
    *total += static_cast<uint64_t>(n);
    if (keep != nullptr && keep->size() < cap)
      keep->append(buf, static_cast<size_t>(
                          std::min<uint64_t>(static_cast<uint64_t>(n), cap - keep->size())));
  }
}

// Runs until stdout, stderr and the report pipe reach EOF and the anchor (if
// any) has exited. `kill_all` ends every process of the call: at the
// deadline, when the anchor exits (so background processes cannot hold the
// pipes open), and on abort. After a kill, draining gets a grace period and
// then gives up, so this never hangs.
pump_result pump(pump_io io, std::string_view input, uint64_t cap, uint64_t timeout_ms,
                 const std::function<void()>& kill_all) {
  pump_result r;
  constexpr auto grace = std::chrono::seconds{2};
  auto deadline = timeout_ms == 0 ? clock_type::time_point::max()
                                  : clock_type::now()
                                      + std::chrono::milliseconds{timeout_ms};
  bool killed = false;
  auto kill_now = [&] {
    if (!killed)
      kill_all();
    killed = true;
    deadline = clock_type::now() + grace;
  };
  size_t written = 0;
  for (int* fd : {&io.in_w, &io.out_r, &io.err_r, &io.report_r})
    if (*fd >= 0)
      fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
  if (input.empty())
    close_fd(io.in_w);
  // With an anchor the call lasts until the anchor exits, even when it
  // closed its outputs earlier (coreutils close stdout before exiting; a kill
  // in between would turn their exit 0 into SIGKILL).
  while (io.out_r >= 0 || io.err_r >= 0 || io.report_r >= 0 || io.anchor >= 0) {
    pollfd fds[6];
    int* owners[6];
    nfds_t n = 0;
    auto add = [&](int& fd, short events) {
      if (fd >= 0) {
        fds[n] = {fd, events, 0};
        owners[n++] = &fd;
      }
    };
    add(io.in_w, POLLOUT);
    add(io.out_r, POLLIN);
    add(io.err_r, POLLIN);
    add(io.report_r, POLLIN);
    add(io.anchor, POLLIN);
    if (!killed)
      add(io.abort, POLLIN);
    auto now = clock_type::now();
    if (now >= deadline) {
      if (killed)
        break; // grace over: whatever still holds a pipe is abandoned
      r.timed_out = true;
      kill_now();
      continue;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int rc = poll(fds, n, static_cast<int>(std::min<int64_t>(wait + 1, 60000)));
    if (rc < 0 && errno != EINTR)
      break;
    for (nfds_t i = 0; rc > 0 && i < n; ++i) {
      if (fds[i].revents == 0)
        continue;
      int& fd = *owners[i];
      if (&fd == &io.in_w) {
        auto k = write(fd, input.data() + written, input.size() - written);
        if (k > 0)
          written += static_cast<size_t>(k);
        if ((k < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
          close_fd(io.in_w); // done, or the command stopped reading (EPIPE)
      } else if (&fd == &io.out_r) {
        drain(fd, &r.out, &r.out_total, cap);
      } else if (&fd == &io.err_r) {
        drain(fd, &r.err, &r.err_total, cap);
      } else if (&fd == &io.report_r) {
        uint64_t ignored = 0;
        drain(fd, &r.reports, &ignored, 1 << 16);
      } else if (&fd == &io.anchor) {
        close_fd(io.anchor);
        kill_now();
      } else if (&fd == &io.abort) {
        r.aborted = true;
        kill_now();
      }
    }
  }
  for (int* fd : {&io.in_w, &io.out_r, &io.err_r, &io.report_r, &io.anchor})
    close_fd(*fd);
  return r;
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

// Turns what the pump saw and the command's wait status into a result, or
// the setup failure the children reported.
caf::expected<sandbox_result>
make_result(pump_result& pr, bool have_status, int status, const root_plan* plan,
            const exec_plan& ex, uint64_t cap, stage* failed = nullptr) {
  auto reports = parse_reports(pr.reports);
  for (const auto& r : reports)
    if (r.kind == report_kind::setup_failed) {
      if (failed != nullptr)
        *failed = r.where;
      return sandbox_error(sandbox_errc::spawn_failed, describe_setup_failure(r, plan));
    }
  for (const auto& r : reports)
    if (r.kind == report_kind::exited) {
      have_status = true;
      status = r.status;
    }
  sandbox_result res;
  if (have_status && WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (have_status && WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
  } else if (pr.timed_out) {
    res.signal = SIGKILL;
  } else {
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: the sandbox of '" + ex.arg_storage.front()
                           + "' ended without reporting the command's status");
  }
  for (const auto& r : reports)
    if (r.kind == report_kind::exec_failed) {
      std::string msg = "troupe-sandbox: cannot execute '" + ex.arg_storage.front()
                        + "': " + errno_text(r.err) + "\n";
      pr.err.insert(0, msg);
      pr.err_total += msg.size();
    }
  res.timed_out = pr.timed_out;
  res.stdout_bytes_total = pr.out_total;
  res.stderr_bytes_total = pr.err_total;
  res.stdout_truncated = pr.out_total > cap;
  res.stderr_truncated = pr.err_total > cap;
  if (pr.err.size() > cap)
    pr.err.resize(cap);
  res.stdout_data = std::move(pr.out);
  res.stderr_data = std::move(pr.err);
  res.limit_breached = res.timed_out || res.signal == SIGXCPU || res.signal == SIGXFSZ
                       || res.signal == SIGKILL || res.stdout_truncated
                       || res.stderr_truncated;
  return res;
}

struct pipe_pair {
  int r = -1;
  int w = -1;
  ~pipe_pair() {
    close_fd(r);
    close_fd(w);
  }
};

bool make_pipe(pipe_pair& p) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return false;
  p.r = fds[0];
  p.w = fds[1];
  return true;
}

// Blocks SIGPIPE for the calling thread while it writes stdin to a command
// that may have exited, and discards one that became pending meanwhile.
class sigpipe_guard {
public:
  sigpipe_guard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~sigpipe_guard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
  sigset_t old_;
};

unsigned long namespace_flags(bool network) {
  return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
         | (network ? 0 : CLONE_NEWNET);
}

struct cold_child_args {
  root_plan* root = nullptr; // null: no isolation
  exec_plan* exec = nullptr;
  int in_r, out_w, err_w, report_w;
};

// The init of a cold sandbox (or, without isolation, the command itself).
[[noreturn]] void cold_child(cold_child_args& a) {
  // Fixed places: stdio on 0..2 for the command, reports on 3.
  int report = fcntl(a.report_w, F_DUPFD_CLOEXEC, 10);
  if (report < 0 || !place_stdio(a.in_r, a.out_w, a.err_w) || dup2(report, 3) != 3)
    _exit(125);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  syscall(SYS_close_range, 4u, ~0u, 0u);
  auto& ex = *a.exec;
  ex.report_fd = 3;
  // The caller's thread waits for us; if it dies, so does the call.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (a.root == nullptr)
    exec_command(ex);
  prctl(PR_SET_DUMPABLE, 0); // the caller's memory (other secrets) stays unreadable
  // The caller may ignore SIGCHLD, which would make waitpid fail here.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, nullptr);
  if (!build_root(*a.root, 3))
    _exit(1);
  pid_t cmd = spawn_command(ex);
  if (cmd < 0) {
    send_report(3, report_kind::setup_failed, stage::fork_command, -1, errno);
    _exit(1);
  }
  close(0);
  close(1);
  close(2);
  int status = 0;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    if (w == cmd) {
      status = st;
      break;
    }
    if (w < 0 && errno != EINTR) {
      status = W_EXITCODE(125, 0);
      break;
    }
  }
  send_report(3, report_kind::exited, stage::none, -1, 0, status);
  _exit(0); // the kernel now kills whatever the command left behind
}

// The cold path for a normalized request. `probe_file` non-empty runs the
// probe instead of the command; `failed` receives the stage of a setup
// failure.
caf::expected<sandbox_result> run_cold(const sandbox_request& req, bool isolate,
                                       const std::string& probe_file,
                                       stage* failed = nullptr) {
  uint32_t uid = detail::sandbox_uid_base + static_cast<uint32_t>(gettid());
  root_plan root;
  if (isolate) {
    auto plan = prepare_root(req.writable_roots, req.limits, uid);
    if (!plan)
      return std::move(plan.error());
    root = std::move(*plan);
  }
  auto ex = prepare_exec(req, isolate, uid, false, ignored_signals());
  ex.probe_file = probe_file;
  pipe_pair in, out, err, rep;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err) || !make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: creating pipes for '" + req.argv.front()
                           + "': " + errno_text(errno));
  sigpipe_guard no_sigpipe;
  cold_child_args args{isolate ? &root : nullptr, &ex, in.r, out.w, err.w, rep.w};
  auto t0 = clock_type::now();
  pid_t child = raw_clone(isolate ? namespace_flags(req.network) : 0);
  if (child == 0)
    cold_child(args);
  if (child < 0)
    return sandbox_error(isolate && (errno == EPERM || errno == EINVAL)
                           ? sandbox_errc::unavailable
                           : sandbox_errc::spawn_failed,
                         "sandbox: clone for '" + req.argv.front()
                           + "': " + errno_text(errno));
  close_fd(in.r);
  close_fd(out.w);
  close_fd(err.w);
  close_fd(rep.w);
  pump_io io;
  io.in_w = std::exchange(in.w, -1);
  io.out_r = std::exchange(out.r, -1);
  io.err_r = std::exchange(err.r, -1);
  io.report_r = std::exchange(rep.r, -1);
  std::function<void()> kill_all;
  if (isolate) {
    // Killing the init kills its pid namespace: every process of the call.
    kill_all = [child] { kill(child, SIGKILL); };
  } else {
    io.anchor = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
    kill_all = [child] {
      kill(-child, SIGKILL);
      kill(child, SIGKILL);
    };
  }
  auto pr = pump(io, req.stdin_data, req.limits.output_cap_bytes,
                 req.limits.wall_timeout_ms, kill_all);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  auto res = make_result(pr, !isolate, status, isolate ? &root : nullptr, ex,
                         req.limits.output_cap_bytes, failed);
  if (res) {
    res->wall_us = micros_since(t0);
    res->isolation = isolate ? "namespaces" : "none";
  }
  return res;
}

bool is_within(const fs::path& p, const fs::path& base) {
  auto [b, q] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
  (void)q;
  return b == base.end();
}

caf::error invalid(std::string msg) {
  return sandbox_error(sandbox_errc::invalid_request, "sandbox: " + std::move(msg));
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
    if (canon == "/" || is_within(canon, "/proc") || is_within(canon, "/sys")
        || is_within(canon, "/dev"))
      return invalid("writable root '" + root.string()
                     + "' may not be /, or lie in /proc, /sys or /dev");
    out.push_back(canon);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  // A root inside another adds nothing and would only cost a mount.
  std::vector<fs::path> outer;
  for (const auto& r : out)
    if (std::none_of(outer.begin(), outer.end(),
                     [&](const fs::path& o) { return is_within(r, o); }))
      outer.push_back(r);
  return outer;
}

} // namespace

// -- detail -------------------------------------------------------------------

caf::expected<sandbox_request> detail::normalize_request(const sandbox_request& in) {
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

std::string detail::profile_key(bool network, const std::vector<fs::path>& roots) {
  std::string key = network ? "net=1" : "net=0";
  for (const auto& r : roots) {
    key += '\0';
    key += r.string();
  }
  return key;
}

caf::expected<detail::resident_sandbox>
detail::resident_sandbox::enter(bool network, const std::vector<fs::path>& roots,
                                uint32_t uid, int keep_fd) {
  auto normalized = normalize_roots(roots);
  if (!normalized)
    return std::move(normalized.error());
  auto plan = prepare_root(*normalized, sandbox_limits{}, uid);
  if (!plan)
    return std::move(plan.error());
  pipe_pair rep;
  if (!make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: pipe: " + errno_text(errno));
  if (unshare(namespace_flags(network)) != 0)
    return sandbox_error(sandbox_errc::unavailable,
                         "sandbox worker: unshare(pid, mount, ipc, uts"
                           + std::string{network ? "" : ", net"}
                           + " namespaces): " + errno_text(errno));
  pid_t child = fork();
  if (child < 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: fork: " + errno_text(errno));
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close_fd(rep.r);
    if (!build_root(*plan, rep.w))
      _exit(1);
    resident_sandbox sb;
    sb.network = network;
    sb.roots = std::move(*normalized);
    sb.uid = uid;
    sb.tmp_bytes_ = sandbox_limits{}.tmp_bytes;
    sb.ignored_signals_ = ignored_signals();
    // reset_tmp re-attaches the roots that live below /tmp from clones
    // taken now (they keep the idmapping).
    for (const auto& root : sb.roots) {
      auto rel = root.lexically_relative("/tmp");
      if (rel.empty() || *rel.begin() == "..")
        continue;
      int fd = open_tree(AT_FDCWD, root.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (fd < 0) {
        fail(rep.w, stage::clone_tree);
        _exit(1);
      }
      sb.tmp_roots_.push_back({root.string(), dirs_down_to("", root, true), fd});
    }
    return sb; // rep's destructor closes the write end: the parent sees EOF
  }
  close_fd(rep.w);
  std::string bytes;
  uint64_t ignored = 0;
  while (rep.r >= 0)
    drain(rep.r, &bytes, &ignored, 1 << 16);
  for (const auto& r : parse_reports(bytes))
    if (r.kind == report_kind::setup_failed) {
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
      return sandbox_error(sandbox_errc::spawn_failed, describe_setup_failure(r, &*plan));
    }
  close(keep_fd); // only the sandbox holds the pool's socket now
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

caf::error detail::resident_sandbox::reset_tmp() {
  auto data = "mode=1777,size=" + std::to_string(std::max<uint64_t>(tmp_bytes_, 4096));
  // Detaching /tmp takes the roots mounted below it along; the old tmpfs
  // goes away with its last user, and every process of the call is dead.
  if (umount2("/tmp", MNT_DETACH) != 0
      || mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: replacing /tmp: " + errno_text(errno));
  for (const auto& r : tmp_roots_) {
    if (!make_dirs(r.mkdirs))
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: mount point for " + r.path + ": "
                             + errno_text(errno));
    int fd = open_tree(r.fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    bool ok = fd >= 0
              && move_mount(fd, "", AT_FDCWD, r.path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
    int saved = errno;
    if (fd >= 0)
      close(fd);
    if (!ok)
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: re-attaching " + r.path + ": "
                             + errno_text(saved));
  }
  return caf::none;
}

caf::expected<sandbox_result> detail::resident_sandbox::run(const sandbox_request& req,
                                                            int abort_fd) {
  if (req.network != network || req.writable_roots != roots)
    return invalid("the request's isolation profile (network, writable roots) "
                   "differs from this worker's");
  if (req.limits.tmp_bytes != tmp_bytes_) {
    // /tmp is empty here (reset_tmp ran), so shrinking cannot fail for lack
    // of room.
    auto data = "size=" + std::to_string(std::max<uint64_t>(req.limits.tmp_bytes, 4096));
    if (mount(nullptr, "/tmp", nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, data.c_str()) != 0)
      return sandbox_error(sandbox_errc::spawn_failed,
                           "sandbox worker: resizing /tmp to " + data + ": "
                             + errno_text(errno));
    tmp_bytes_ = req.limits.tmp_bytes;
  }
  auto ex = prepare_exec(req, true, uid, true, ignored_signals_);
  pipe_pair in, out, err, rep;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err) || !make_pipe(rep))
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: pipes for '" + req.argv.front()
                           + "': " + errno_text(errno));
  ex.in_fd = in.r;
  ex.out_fd = out.w;
  ex.err_fd = err.w;
  ex.report_fd = rep.w;
  auto t0 = clock_type::now();
  pid_t child = spawn_command(ex);
  if (child < 0)
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox worker: fork for '" + req.argv.front()
                           + "': " + errno_text(errno));
  close_fd(in.r);
  close_fd(out.w);
  close_fd(err.w);
  close_fd(rep.w);
  pump_io io;
  io.in_w = std::exchange(in.w, -1);
  io.out_r = std::exchange(out.r, -1);
  io.err_r = std::exchange(err.r, -1);
  io.report_r = std::exchange(rep.r, -1);
  io.anchor = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  io.abort = abort_fd;
  // As pid 1 of the namespace, kill(-1) reaches every process but us: also
  // those that left the command's session or process group.
  auto kill_all = [] { kill(-1, SIGKILL); };
  auto pr = pump(io, req.stdin_data, req.limits.output_cap_bytes,
                 req.limits.wall_timeout_ms, kill_all);
  kill_all();
  int status = 0;
  bool have_status = false;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    if (w == child) {
      status = st;
      have_status = true;
    } else if (w < 0 && errno != EINTR) {
      break; // ECHILD: nothing of the call is left
    }
  }
  if (pr.aborted)
    return sandbox_error(sandbox_errc::worker_crashed,
                         "sandbox worker: the pool went away during '"
                           + req.argv.front() + "'; the call was killed");
  auto res = make_result(pr, have_status, status, nullptr, ex,
                         req.limits.output_cap_bytes);
  if (res) {
    res->wall_us = micros_since(t0);
    res->isolation = "namespaces";
  }
  return res;
}

// -- public -------------------------------------------------------------------

isolation_probe probe_isolation() {
  isolation_probe out;
  for (const char* p : {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"})
    if (access(p, X_OK) == 0) {
      out.bubblewrap_found = true;
      out.bubblewrap_path = p;
      break;
    }
  pid_t ns = raw_clone(namespace_flags(false));
  if (ns == 0)
    _exit(0);
  if (ns < 0) {
    out.detail = "namespaces: clone(new pid, net, mount, ipc, uts namespaces): "
                 + errno_text(errno) + " (troupe must run as root)";
    return out;
  }
  while (waitpid(ns, nullptr, 0) < 0 && errno == EINTR) {
  }
  out.namespaces = true;
  char tmpl[] = "/tmp/troupe-probe-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    out.detail = std::string{"probe: mkdtemp in /tmp: "} + errno_text(errno);
    return out;
  }
  sandbox_request req;
  req.argv = {"probe"};
  req.writable_roots = {tmpl};
  req.limits.wall_timeout_ms = 10000;
  auto t0 = clock_type::now();
  stage failed = stage::none;
  auto norm = detail::normalize_request(req);
  caf::expected<sandbox_result> res{sandbox_result{}};
  if (norm)
    res = run_cold(*norm, true, (norm->writable_roots.front() / ".troupe-probe").string(),
                   &failed);
  else
    res = std::move(norm.error());
  out.sandbox_start_us = micros_since(t0);
  std::error_code ec;
  fs::remove_all(tmpl, ec);
  if (res && res->exit_code == 0) {
    out.idmapped_mounts = true;
    out.uid_drop = true;
    return out;
  }
  std::string why = res ? "the probe exited with " + std::to_string(res->exit_code)
                            + " (signal " + std::to_string(res->signal) + ")"
                        : render(res.error());
  switch (failed) {
    case stage::drop_uid:
    case stage::set_rlimit:
      out.idmapped_mounts = true;
      out.detail = "uid drop: " + why;
      break;
    case stage::userns_helper:
    case stage::write_id_map:
    case stage::idmap_attr:
    case stage::probe_write:
      out.uid_drop = true;
      out.detail = "idmapped mounts: " + why;
      break;
    default:
      out.namespaces = false;
      out.detail = "sandbox root: " + why;
  }
  return out;
}

caf::expected<std::string> isolation_available() {
  static const isolation_probe probe = probe_isolation();
  if (probe.ok())
    return std::string{"namespaces"};
  return sandbox_error(sandbox_errc::unavailable,
                       "sandbox: process isolation is unavailable on this host: "
                         + probe.detail);
}

caf::expected<sandbox_result> run_sandboxed(const sandbox_request& req) {
  auto norm = detail::normalize_request(req);
  if (!norm)
    return std::move(norm.error());
  auto avail = isolation_available();
  if (!avail && !req.allow_unsandboxed)
    return sandbox_error(sandbox_errc::unavailable,
                         render(avail.error())
                           + "; refusing to run '" + req.argv.front()
                           + "' unsandboxed (the request does not set allow_unsandboxed)");
  return run_cold(*norm, static_cast<bool>(avail), {});
}

} // namespace troupe
