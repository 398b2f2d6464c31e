// Kernel surfaces that namespaces do not contain: keyrings, file handles,
// other processes' memory. Each case tries the call from inside the sandbox,
// through both the cold path and the pool, and expects the seccomp filter's
// EPERM (see sandbox/detail/sandbox_exec.cpp).

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "sandbox/sandbox_process.hpp"
#include "schemas/errors.hpp"

namespace troupe::test {
// Defined in main.cpp.
const std::filesystem::path& shared_workspace();
std::vector<std::pair<std::string,
                      std::function<caf::expected<sandbox_result>(const sandbox_request&)>>>
sandbox_paths();
const char* host_key_description();
std::string host_key_payload();
} // namespace troupe::test

namespace {

using namespace troupe;
using namespace troupe::test;

// Python with ctypes reaches any system call by number (x86_64 numbers),
// the way a hostile binary would; each line prints "name result errno".
const char* syscall_prelude =
  "import ctypes, os\n"
  "libc = ctypes.CDLL(None, use_errno=True)\n"
  "def sc(name, *args):\n"
  "    ctypes.set_errno(0)\n"
  "    r = libc.syscall(*args)\n"
  "    print(name, r, ctypes.get_errno())\n";

sandbox_request python(const std::string& script) {
  sandbox_request req;
  req.argv = {"python3", "-c", std::string(syscall_prelude) + script};
  req.writable_roots = {shared_workspace()};
  req.cwd = shared_workspace();
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.limits.wall_timeout_ms = 10000;
  return req;
}

bool refused(const std::string& out, const std::string& name) {
  return out.find(name + " -1 1\n") != std::string::npos; // -1, EPERM
}

} // namespace

BOOST_AUTO_TEST_SUITE(kernel_surface)

// Holds by: an empty session keyring of the command's own and the filter
// refusing keyctl, add_key and request_key. Before, a command possessed the
// caller's session keyring and read its keys whatever its uid.
BOOST_AUTO_TEST_CASE(the_hosts_session_keyring_is_out_of_reach) {
  const std::string desc = host_key_description();
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(python(
        "buf = ctypes.create_string_buffer(256)\n"
        "sc('session', 250, 0, -3, 0)\n"                      // KEYCTL_GET_KEYRING_ID
        "sc('search', 250, 10, -3, b'user', b'" + desc + "', 0)\n" // KEYCTL_SEARCH
        "sc('request', 249, b'user', b'" + desc + "', None, 0)\n"
        "sc('add', 248, b'user', b'planted', b'x', 1, -3)\n"
        "serial = libc.syscall(250, 10, -3, b'user', b'" + desc + "', 0)\n"
        "if serial > 0 and libc.syscall(250, 11, serial, buf, 256) > 0:\n"
        "    print('read', buf.value.decode())\n"
        "keys = open('/proc/keys').read() if os.path.exists('/proc/keys') else ''\n"
        "print('listed' if '" + desc + "' in keys else 'unlisted')\n"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      const auto& out = res->stdout_data;
      BOOST_TEST_INFO("stdout: " << out << "stderr: " << res->stderr_data);
      BOOST_TEST(refused(out, "session"));
      BOOST_TEST(refused(out, "search"));
      BOOST_TEST(refused(out, "request"));
      BOOST_TEST(refused(out, "add"));
      BOOST_TEST(out.find(host_key_payload()) == std::string::npos);
      BOOST_TEST(out.find("unlisted") != std::string::npos);
    }
  }
}

// Holds by: the filter. name_to_handle_at needs no privilege and its handle
// opens files past every mount; process_vm_readv reads another process's
// memory (here our own, which would succeed without the filter).
BOOST_AUTO_TEST_CASE(file_handles_and_cross_process_memory_calls_are_refused) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(python(
        "handle = ctypes.create_string_buffer(128)\n"
        "ctypes.memmove(handle, (ctypes.c_uint * 1)(120), 4)\n"
        "mount_id = ctypes.c_int()\n"
        "sc('handle', 303, -100, b'.', handle, ctypes.byref(mount_id), 0)\n"
        "src = ctypes.create_string_buffer(b'x' * 16)\n"
        "dst = ctypes.create_string_buffer(16)\n"
        "class iov(ctypes.Structure):\n"
        "    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
        "l = iov(ctypes.cast(dst, ctypes.c_void_p), 16)\n"
        "r = iov(ctypes.cast(src, ctypes.c_void_p), 16)\n"
        "sc('vm_read', 310, os.getpid(), ctypes.byref(l), 1, ctypes.byref(r), 1, 0)\n"
        "sc('kcmp', 312, os.getpid(), os.getpid(), 0, 0, 0)\n"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      const auto& out = res->stdout_data;
      BOOST_TEST_INFO("stdout: " << out << "stderr: " << res->stderr_data);
      BOOST_TEST(refused(out, "handle"));
      BOOST_TEST(refused(out, "vm_read"));
      BOOST_TEST(refused(out, "kcmp"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
