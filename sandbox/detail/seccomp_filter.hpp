#pragma once
// The seccomp filter every sandboxed command runs under: which system calls
// it refuses and why (seccomp_filter.cpp), the classic BPF program that
// encodes that, and installing it in a child.

#include <cstdint>
#include <vector>

#include <linux/filter.h>

namespace troupe::detail {

/// The system call numbers (this architecture's) the filter refuses with
/// EPERM whatever their arguments. Besides these it refuses every call of
/// another ABI (i386, x32), clone and unshare with CLONE_NEWUSER, and answers
/// clone3 with ENOSYS (see the definition).
[[nodiscard]] const std::vector<uint32_t>& denied_syscalls();

/// The filter program, built once on first use and never changed after, so
/// that children may read it without allocating. Call it before forking;
/// empty where no filter exists for the architecture.
[[nodiscard]] const std::vector<sock_filter>& seccomp_program();

/// Installs `program` on the calling thread (system calls only: safe in a
/// child that shares its parent's memory). Requires no_new_privs or
/// CAP_SYS_ADMIN. True when installed, or when `program` is empty.
[[nodiscard]] bool install_seccomp_filter(const std::vector<sock_filter>& program);

} // namespace troupe::detail
