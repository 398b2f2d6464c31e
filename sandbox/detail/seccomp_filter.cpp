#include "sandbox/detail/seccomp_filter.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <utility>

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace troupe::detail {

// The filter is a deny-list, reviewed as an allow-list question: a sandboxed
// command is an arbitrary program (a compiler, python, git), and an
// allow-list that fits them all is one nobody can audit. So every call stays
// open except the kernel surfaces a command never needs and namespaces do not
// contain, each a known escape or privilege path:
//
// - keyrings (keyctl, add_key, request_key): not namespaced; a child that
//   inherits a session keyring possesses it and can read its keys whatever
//   its uid. The command also gets an empty session keyring of its own.
// - new user namespaces (clone/unshare with CLONE_NEWUSER): root inside one
//   reaches code paths unprivileged users cannot. clone3 hides its flags in
//   memory a filter cannot read, so it fails with ENOSYS and libc falls back
//   to clone, whose flags the filter checks.
// - other namespaces and mounts (setns, mount, umount2, pivot_root, the new
//   mount API): dropped capabilities refuse them today; the filter keeps it
//   so if a capability ever leaks.
// - file handles (name_to_handle_at, open_by_handle_at): a handle opens a
//   file by inode, past every mount (the "shocker" escape).
// - other processes' memory and descriptors (process_vm_readv/writev, kcmp,
//   pidfd_getfd).
// - kernel-wide state (modules, kexec, reboot, swap, clocks, accounting,
//   quotas, syslog, ioperm/iopl, fanotify, lookup_dcookie, uselib, ustat,
//   sysfs, vhangup).
// - large attack surfaces: bpf, perf_event_open, userfaultfd, io_uring.
//
// ptrace stays allowed: the pid namespace and the uid drop already confine it
// to the command's own processes, and strace/gdb are legitimate tools.
const std::vector<uint32_t>& denied_syscalls() {
  static const std::vector<uint32_t> list{
#if defined(__x86_64__)
    __NR_keyctl, __NR_add_key, __NR_request_key,
    __NR_setns, __NR_mount, __NR_umount2, __NR_pivot_root,
    __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick, __NR_move_mount,
    __NR_open_tree, __NR_mount_setattr,
    __NR_name_to_handle_at, __NR_open_by_handle_at,
    __NR_process_vm_readv, __NR_process_vm_writev, __NR_kcmp, __NR_pidfd_getfd,
    __NR_init_module, __NR_finit_module, __NR_delete_module, __NR_kexec_load,
    __NR_kexec_file_load, __NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct,
    __NR_settimeofday, __NR_clock_settime, __NR_clock_adjtime, __NR_adjtimex,
    __NR_quotactl, __NR_syslog, __NR_ioperm, __NR_iopl, __NR_fanotify_init,
    __NR_lookup_dcookie, __NR_uselib, __NR_ustat, __NR_sysfs, __NR_vhangup,
    __NR_bpf, __NR_perf_event_open, __NR_userfaultfd,
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
  };
  return list;
}

namespace {

#if defined(__x86_64__)

constexpr uint32_t ret_deny = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t ret_no_sys = SECCOMP_RET_ERRNO | ENOSYS;
constexpr uint32_t ret_allow = SECCOMP_RET_ALLOW;
constexpr uint16_t jeq = BPF_JMP | BPF_JEQ | BPF_K;
constexpr uint16_t jge = BPF_JMP | BPF_JGE | BPF_K;
constexpr uint16_t jgt = BPF_JMP | BPF_JGT | BPF_K;

// An instruction whose jumps may still aim at the program's final two
// returns; they become offsets once the program's length is known.
struct pending {
  enum target : uint8_t { next_plus_offset, to_allow, to_deny };
  sock_filter insn;
  target jt = next_plus_offset;
  target jf = next_plus_offset;
};

using interval = std::pair<uint32_t, uint32_t>; // [first, last] denied

// A binary search over sorted, disjoint intervals, the call's number in A.
// Linear JEQs would do as well at run time (the kernel caches the verdict of
// every call a filter decides by number alone), but installing a filter
// evaluates it once per system call number to build that cache, which for
// ~50 sequential comparisons cost ~100 us per command; the search evaluates
// in ~7.
void emit_search(std::vector<pending>& out, const interval* first, size_t n) {
  if (n == 1) {
    auto [lo, hi] = *first;
    if (lo == hi) {
      out.push_back({BPF_JUMP(jeq, lo, 0, 0), pending::to_deny, pending::to_allow});
    } else {
      out.push_back({BPF_JUMP(jge, lo, 0, 0), pending::next_plus_offset, pending::to_allow});
      out.push_back({BPF_JUMP(jgt, hi, 0, 0), pending::to_allow, pending::to_deny});
    }
    return;
  }
  size_t half = n / 2;
  std::vector<pending> lower;
  emit_search(lower, first, half);
  assert(lower.size() <= 255 && "BPF jump offsets are one byte");
  // At or above the upper half's first number: skip the lower half's code.
  out.push_back({BPF_JUMP(jge, first[half].first, static_cast<uint8_t>(lower.size()), 0)});
  out.insert(out.end(), lower.begin(), lower.end());
  emit_search(out, first + half, n - half);
}

std::vector<interval> denied_intervals() {
  auto nums = denied_syscalls();
  std::sort(nums.begin(), nums.end());
  nums.erase(std::unique(nums.begin(), nums.end()), nums.end());
  std::vector<interval> out;
  for (auto nr : nums)
    if (!out.empty() && out.back().second + 1 == nr)
      out.back().second = nr;
    else
      out.emplace_back(nr, nr);
  return out;
}

std::vector<sock_filter> build_program() {
  constexpr uint32_t arg0 = offsetof(seccomp_data, args); // low half on x86_64
  std::vector<pending> code{
    {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch))},
    {BPF_JUMP(jeq, AUDIT_ARCH_X86_64, 1, 0)},
    {BPF_STMT(BPF_RET | BPF_K, ret_deny)}, // another ABI (i386 via int 0x80)
    {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))},
    {BPF_JUMP(jge, 0x40000000u, 0, 1)}, // x32 ABI
    {BPF_STMT(BPF_RET | BPF_K, ret_deny)},
    {BPF_JUMP(jeq, SYS_clone3, 0, 1)},
    {BPF_STMT(BPF_RET | BPF_K, ret_no_sys)},
    {BPF_JUMP(jeq, SYS_clone, 1, 0)},
    {BPF_JUMP(jeq, SYS_unshare, 0, 4)}, // to the search, the number still in A
    {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg0)},
    {BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1)},
    {BPF_STMT(BPF_RET | BPF_K, ret_deny)},
    {BPF_STMT(BPF_RET | BPF_K, ret_allow)},
  };
  auto intervals = denied_intervals();
  if (!intervals.empty())
    emit_search(code, intervals.data(), intervals.size());
  size_t allow_at = code.size();
  size_t deny_at = allow_at + 1;
  std::vector<sock_filter> prog;
  prog.reserve(code.size() + 2);
  for (size_t i = 0; i < code.size(); ++i) {
    auto resolve = [&](pending::target t, uint8_t offset) -> uint8_t {
      if (t == pending::next_plus_offset)
        return offset;
      size_t to = t == pending::to_allow ? allow_at : deny_at;
      assert(to - i - 1 <= 255 && "BPF jump offsets are one byte");
      return static_cast<uint8_t>(to - i - 1);
    };
    auto insn = code[i].insn;
    insn.jt = resolve(code[i].jt, insn.jt);
    insn.jf = resolve(code[i].jf, insn.jf);
    prog.push_back(insn);
  }
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, ret_allow));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, ret_deny));
  return prog;
}

#else

std::vector<sock_filter> build_program() {
  return {}; // TODO(security): filters for other architectures
}

#endif

} // namespace

const std::vector<sock_filter>& seccomp_program() {
  static const std::vector<sock_filter> program = build_program();
  return program;
}

bool install_seccomp_filter(const std::vector<sock_filter>& program) {
  if (program.empty())
    return true;
  sock_fprog prog{static_cast<unsigned short>(program.size()),
                  const_cast<sock_filter*>(program.data())};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

} // namespace troupe::detail
