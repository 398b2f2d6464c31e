// The seccomp program, run here by a classic BPF interpreter over every
// system call number: it must refuse exactly the documented surfaces, and
// decide each number in few steps (installing a filter evaluates it once per
// number; see sandbox/detail/seccomp_filter.cpp). kernel_surface_test checks
// the installed filter in the kernel.

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <boost/test/unit_test.hpp>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/syscall.h>

#include "sandbox/detail/seccomp_filter.hpp"

namespace {

using troupe::detail::denied_syscalls;
using troupe::detail::seccomp_program;

struct verdict {
  uint32_t action = 0;
  int steps = 0; // instructions executed
  bool ok = true; // false: the program did something this interpreter rejects
};

// Only what a seccomp program may contain and ours uses: 32-bit absolute
// loads from seccomp_data, jumps against constants, returns of a constant.
verdict run(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  verdict v;
  uint32_t a = 0;
  unsigned char bytes[sizeof data];
  std::memcpy(bytes, &data, sizeof data);
  for (size_t pc = 0; pc < prog.size(); ++pc, ++v.steps) {
    const auto& in = prog[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k + 4 > sizeof data) {
          v.ok = false;
          return v;
        }
        std::memcpy(&a, bytes + in.k, 4);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > in.k ? in.jt : in.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & in.k) != 0 ? in.jt : in.jf;
        break;
      case BPF_RET | BPF_K:
        v.action = in.k;
        ++v.steps;
        return v;
      default:
        v.ok = false;
        return v;
    }
  }
  v.ok = false; // fell off the end
  return v;
}

seccomp_data call(uint32_t nr, uint32_t arch = AUDIT_ARCH_X86_64, uint64_t arg0 = 0) {
  seccomp_data d{};
  d.nr = static_cast<int>(nr);
  d.arch = arch;
  d.args[0] = arg0;
  return d;
}

constexpr uint32_t deny = SECCOMP_RET_ERRNO | EPERM;

} // namespace

BOOST_AUTO_TEST_SUITE(seccomp_filter)

#if defined(__x86_64__)

BOOST_AUTO_TEST_CASE(refuses_exactly_the_denied_calls_of_this_abi) {
  const auto& prog = seccomp_program();
  BOOST_REQUIRE(!prog.empty());
  BOOST_TEST(prog.size() <= 4096u); // BPF_MAXINSNS
  const auto& denied = denied_syscalls();
  int most_steps = 0;
  for (uint32_t nr = 0; nr < 2048; ++nr) {
    auto v = run(prog, call(nr));
    BOOST_REQUIRE_MESSAGE(v.ok, "the program misbehaved on " << nr);
    uint32_t want = SECCOMP_RET_ALLOW;
    if (std::find(denied.begin(), denied.end(), nr) != denied.end())
      want = deny;
    else if (nr == SYS_clone3)
      want = SECCOMP_RET_ERRNO | ENOSYS; // libc falls back to clone
    BOOST_TEST(v.action == want, "system call " << nr);
    most_steps = std::max(most_steps, v.steps);
  }
  // A sequential list took up to ~60; each step is paid once per number
  // when the kernel builds its verdict cache at install time.
  BOOST_TEST(most_steps <= 24);
}

BOOST_AUTO_TEST_CASE(new_user_namespaces_and_other_abis_are_refused) {
  const auto& prog = seccomp_program();
  for (uint32_t nr : {uint32_t{SYS_clone}, uint32_t{SYS_unshare}}) {
    BOOST_TEST(run(prog, call(nr, AUDIT_ARCH_X86_64, CLONE_NEWUSER)).action == deny);
    BOOST_TEST(run(prog, call(nr, AUDIT_ARCH_X86_64, CLONE_NEWUSER | CLONE_NEWNS)).action
               == deny);
    BOOST_TEST(run(prog, call(nr, AUDIT_ARCH_X86_64, CLONE_NEWIPC)).action
               == SECCOMP_RET_ALLOW);
  }
  for (uint32_t nr : {0u, 1u, 59u, 250u})
    BOOST_TEST(run(prog, call(nr, AUDIT_ARCH_I386)).action == deny);
  BOOST_TEST(run(prog, call(0x40000000u | 59u)).action == deny); // x32 execve
}

#endif

BOOST_AUTO_TEST_SUITE_END()
