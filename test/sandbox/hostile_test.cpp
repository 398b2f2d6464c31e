// Commands that try to get out, or to take the host down, through both the
// cold path and the pool. Each case says which part of the sandbox holds.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "core/sandbox_spec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/processes.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {
// Defined in main.cpp: one workspace and one pool shared by the binary.
const std::filesystem::path& shared_workspace();
std::vector<std::pair<std::string,
                      std::function<caf::expected<sandbox_result>(const sandbox_request&)>>>
sandbox_paths();
} // namespace troupe::test

namespace {

using namespace troupe;
using namespace troupe::test;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

sandbox_request call(std::vector<std::string> argv) {
  sandbox_request req;
  req.argv = std::move(argv);
  req.writable_roots = {shared_workspace()};
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.limits.wall_timeout_ms = 10000;
  return req;
}

sandbox_request shell(const std::string& script) {
  return call({"bash", "-c", script});
}

// The host temp dir that holds the shared workspace: outside every root.
fs::path outside() {
  return shared_workspace().parent_path();
}

// A marker unique to this test process and call, for leftover checks.
std::string marker(const std::string& what) {
  static int n = 0;
  return what + std::to_string(getpid()) + "x" + std::to_string(++n);
}


double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// A TCP listener on the host's loopback that the tests try to reach.
struct listener {
  int fd = -1;
  int port = 0;
  listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(listen(fd, 16) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~listener() { close(fd); }
  /// Connections that arrived (accepting them).
  int accepted() const {
    int n = 0;
    for (int c; (c = accept(fd, nullptr, nullptr)) >= 0; ++n)
      close(c);
    return n;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(sandbox_hostile)

// Holds by: the network namespace (loopback only, and down).
BOOST_AUTO_TEST_CASE(network_is_unreachable_without_the_grant) {
  listener l;
  auto tcp = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(l.port) + " && echo connected";
  auto py = "import socket; socket.create_connection(('127.0.0.1', "
            + std::to_string(l.port) + "), timeout=2); print('connected')";
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(shell(tcp));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0);
      BOOST_TEST(res->stdout_data.find("connected") == std::string::npos);
      res = run(call({"python3", "-c", py}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0);
      BOOST_TEST(res->stdout_data.find("connected") == std::string::npos);
      res = run(call({"cat", "/proc/net/tcp"})); // the host's sockets are not listed
      BOOST_REQUIRE_MESSAGE(res, render(res));
      char hex_port[8];
      std::snprintf(hex_port, sizeof hex_port, ":%04X", l.port);
      BOOST_TEST(res->stdout_data.find(hex_port) == std::string::npos);
      BOOST_TEST(l.accepted() == 0);
      // Control: the same call with the grant does connect, so the check
      // above tests the sandbox and not a broken listener.
      auto granted = shell(tcp);
      granted.network = true;
      res = run(granted);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "connected\n");
      BOOST_TEST(l.accepted() == 1);
    }
  }
}

// Holds by: the read-only binds of /etc and /usr, the root tmpfs remounted
// read-only, the private /tmp, and the parent of the workspace existing in
// the sandbox only as a root-owned mount point directory.
BOOST_AUTO_TEST_CASE(writes_outside_the_writable_roots_fail_and_leave_nothing) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto host_tmp = fs::path{"/tmp"} / marker("troupe-escape-");
      auto parent_file = outside() / marker("outside-");
      for (const auto& target :
           {fs::path{"/etc"} / marker("x"), fs::path{"/usr"} / marker("x"),
            fs::path{"/"} / marker("x"), parent_file}) {
        auto res = run(shell("echo pwned > '" + target.string() + "'"));
        BOOST_REQUIRE_MESSAGE(res, render(res));
        BOOST_TEST(res->exit_code != 0, target);
        BOOST_TEST(!fs::exists(target), target);
      }
      // /tmp is writable, but it is the sandbox's own.
      auto res = run(shell("echo pwned > '" + host_tmp.string() + "' && echo wrote"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "wrote\n");
      BOOST_TEST(!fs::exists(host_tmp));
    }
  }
}

// Holds by: the host's temp dirs, home and /work not being in the sandbox
// at all (only /usr, /bin, /sbin, /lib*, /etc are), and /proc being the
// sandbox's own.
BOOST_AUTO_TEST_CASE(files_outside_are_not_readable) {
  temp_dir other{"troupe-secret"};
  write_file(other.path / "secret.txt", "top-secret-outside");
  write_file(outside() / "neighbour.txt", "top-secret-neighbour");
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      for (const auto& path : {other.path / "secret.txt", outside() / "neighbour.txt",
                               fs::path{"/root/.bashrc"}, fs::path{"/work"}}) {
        auto res = run(call({"cat", path.string()}));
        BOOST_REQUIRE_MESSAGE(res, render(res));
        BOOST_TEST(res->exit_code != 0, path);
        BOOST_TEST(res->stdout_data.find("top-secret") == std::string::npos, path);
      }
      auto res = run(shell("ls /; ls /tmp"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data.find("home") == std::string::npos);
      BOOST_TEST(res->stdout_data.find("work") == std::string::npos);
      BOOST_TEST(res->stdout_data.find(other.path.filename().string()) == std::string::npos);
      // Host processes are invisible: only the sandbox's few pids exist.
      res = run(shell("ls /proc | grep -c '^[0-9]'"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(std::atoi(res->stdout_data.c_str()) < 10);
    }
  }
}

// Holds by: symlinks resolving inside the sandbox's view, where their
// targets are absent, read-only or unwritable.
BOOST_AUTO_TEST_CASE(symlinks_out_of_the_workspace_lead_nowhere) {
  write_file(outside() / "victim.txt", "original");
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto ws = shared_workspace() / ("links-" + name);
      fs::remove_all(ws);
      fs::create_directories(ws);
      auto fresh = outside() / marker("created-");
      fs::create_symlink(fresh, ws / "to_new");
      fs::create_symlink(outside() / "victim.txt", ws / "to_victim");
      fs::create_symlink("/etc/passwd", ws / "to_passwd");
      fs::create_symlink(outside(), ws / "to_dir");
      auto req = shell("echo pwned > to_new; echo pwned > to_victim; echo pwned > "
                       "to_passwd; echo pwned > to_dir/viadir; cat to_victim; exit 0");
      req.cwd = ws;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data.find("original") == std::string::npos);
      BOOST_TEST(!fs::exists(fresh));
      BOOST_TEST(!fs::exists(outside() / "viadir"));
      BOOST_TEST(slurp(outside() / "victim.txt") == "original");
      BOOST_TEST(slurp("/etc/passwd").find("pwned") == std::string::npos);
    }
  }
}

// Holds by: the same views; argv is never interpreted, so `..` is only a
// path the command resolves inside the sandbox.
BOOST_AUTO_TEST_CASE(dot_dot_in_arguments_stays_inside) {
  write_file(outside() / "dotdot-secret.txt", "top-secret-dotdot");
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(call({"cat", "../dotdot-secret.txt"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0);
      BOOST_TEST(res->stdout_data.find("top-secret") == std::string::npos);
      auto escape = marker("dotdot-");
      res = run(call({"touch", "../" + escape, "../../" + escape, "../../../../etc/" + escape}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0);
      BOOST_TEST(!fs::exists(outside() / escape));
      BOOST_TEST(!fs::exists(fs::path{"/tmp"} / escape));
      BOOST_TEST(!fs::exists(fs::path{"/etc"} / escape));
    }
  }
}

// Holds by: RLIMIT_NPROC on the call's own uid (forks fail once the call
// has `processes` processes; bash then keeps retrying), and the wall timeout
// that kills the pid namespace (cold) or every process of the call (pool).
BOOST_AUTO_TEST_CASE(a_fork_bomb_is_contained_and_cleaned_up) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto tag = marker("bomb");
      auto req = shell("b() { b | b; }; b # " + tag);
      req.limits.processes = 32;
      req.limits.wall_timeout_ms = 2000;
      // Watch from the host while the bomb runs: its processes all carry
      // the tag in their command line (forked shells keep it).
      std::atomic<bool> done{false};
      size_t most = 0;
      std::thread watcher{[&] {
        while (!done) {
          most = std::max(most, processes_with(tag).size());
          std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
      }};
      auto t0 = clock_type::now();
      auto res = run(req);
      auto took = seconds_since(t0);
      done = true;
      watcher.join();
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(took < 6.0);
      BOOST_TEST(res->timed_out);
      BOOST_TEST(res->stderr_data.find("Resource temporarily unavailable") != std::string::npos);
      BOOST_TEST(most > 1u);
      BOOST_TEST(most <= 32u);
      BOOST_TEST(processes_with(tag).empty());
      auto after = run(call({"echo", "still fine"}));
      BOOST_REQUIRE_MESSAGE(after, render(after));
      BOOST_TEST(after->stdout_data == "still fine\n");
    }
  }
}

// Holds by: RLIMIT_AS.
BOOST_AUTO_TEST_CASE(a_memory_hog_hits_the_address_space_limit) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"python3", "-c", "b = bytearray(1 << 30); print('allocated')"});
      req.limits.address_space_bytes = 256 * sandbox_mib;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0);
      BOOST_TEST(res->stdout_data.find("allocated") == std::string::npos);
      BOOST_TEST(res->stderr_data.find("MemoryError") != std::string::npos);
    }
  }
}

// Holds by: RLIMIT_FSIZE (SIGXFSZ); the workspace keeps a file cut at the
// limit.
BOOST_AUTO_TEST_CASE(a_disk_filler_hits_the_file_size_limit) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto file = shared_workspace() / ("big-" + name);
      auto req = shell("head -c 4194304 /dev/zero > '" + file.string() + "'");
      req.limits.file_size_bytes = sandbox_mib;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code != 0); // the shell reports head's SIGXFSZ
      BOOST_TEST(res->limit_breached == (res->signal == SIGXFSZ));
      BOOST_TEST(fs::file_size(file) == sandbox_mib);
      fs::remove(file);
    }
  }
}

// Holds by: RLIMIT_CPU (SIGXCPU at the soft limit).
BOOST_AUTO_TEST_CASE(a_cpu_spin_is_stopped_by_the_cpu_limit) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = shell("while :; do :; done");
      req.limits.cpu_seconds = 1;
      auto t0 = clock_type::now();
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(seconds_since(t0) < 8.0);
      BOOST_TEST((res->signal == SIGXCPU || res->signal == SIGKILL));
      BOOST_TEST(res->limit_breached);
      BOOST_TEST(!res->timed_out);
    }
  }
}

// Holds by: the wall timeout, which kills processes that left the command's
// session too (a new session via setsid, a background job).
BOOST_AUTO_TEST_CASE(a_sleep_past_the_timeout_is_killed_with_everything_it_started) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto dur = "30." + std::to_string(getpid()) + (name == "cold" ? "1" : "2");
      auto req = shell("setsid sleep " + dur + " & sleep " + dur + " & sleep " + dur);
      req.limits.wall_timeout_ms = 700;
      auto t0 = clock_type::now();
      auto res = run(req);
      auto took = seconds_since(t0);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->timed_out);
      BOOST_TEST(res->limit_breached);
      BOOST_TEST(res->signal == SIGKILL);
      BOOST_TEST(took >= 0.65);
      BOOST_TEST(took < 3.0);
      BOOST_TEST(processes_with("sleep " + dur).empty());
    }
  }
}

// Holds by: the command exiting before the call ends is not enough to keep
// its background processes: they are killed when it exits.
BOOST_AUTO_TEST_CASE(background_processes_do_not_outlive_the_call) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto dur = "31." + std::to_string(getpid()) + (name == "cold" ? "1" : "2");
      auto t0 = clock_type::now();
      auto res = run(shell("setsid sleep " + dur + " > /dev/null 2>&1 & echo started"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "started\n");
      BOOST_TEST(!res->timed_out);
      BOOST_TEST(seconds_since(t0) < 3.0);
      BOOST_TEST(processes_with("sleep " + dur).empty());
    }
  }
}

// Holds by: the output cap (kept bytes) and the pump reading on, so the
// writer never blocks; `yes` ends at the wall timeout, a finite flood ends
// on its own.
BOOST_AUTO_TEST_CASE(gigabytes_of_output_are_capped_and_the_call_returns) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"head", "-c", "1073741824", "/dev/zero"});
      auto t0 = clock_type::now();
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(seconds_since(t0) < 8.0);
      BOOST_TEST(res->exit_code == 0);
      BOOST_TEST(res->stdout_truncated);
      BOOST_TEST(res->stdout_data.size() == req.limits.output_cap_bytes);
      BOOST_TEST(res->stdout_bytes_total == 1073741824u);
      BOOST_TEST(res->limit_breached);
      auto flood = call({"yes"});
      flood.limits.wall_timeout_ms = 1000;
      t0 = clock_type::now();
      res = run(flood);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(seconds_since(t0) < 4.0);
      BOOST_TEST(res->timed_out);
      BOOST_TEST(res->stdout_truncated);
      BOOST_TEST(res->stdout_data.size() == flood.limits.output_cap_bytes);
      BOOST_TEST(res->stdout_bytes_total > flood.limits.output_cap_bytes);
    }
  }
}

// Holds by: the environment being exactly the request's, and the sandbox
// init (a copy of this process on the cold path) being unreadable to the
// command's uid.
BOOST_AUTO_TEST_CASE(another_rules_secret_is_not_reachable) {
  setenv("TROUPE_TEST_OTHER_SECRET", "other-rule-s3cret", 1);
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = shell("env; cat /proc/1/environ; cat /proc/*/environ; "
                       "grep -a other-rule-s3cret /proc/1/cmdline /proc/1/environ; exit 0");
      req.env["GRANTED_TOKEN"] = "granted-value";
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data.find("GRANTED_TOKEN=granted-value") != std::string::npos);
      BOOST_TEST(res->stdout_data.find("other-rule-s3cret") == std::string::npos);
      BOOST_TEST(res->stdout_data.find("TROUPE_TEST_OTHER_SECRET") == std::string::npos);
    }
  }
  unsetenv("TROUPE_TEST_OTHER_SECRET");
}

// Holds by: execve with the argv as given; no shell ever sees the elements.
BOOST_AUTO_TEST_CASE(arguments_are_never_interpreted_by_a_shell) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto pwned = shared_workspace() / marker("pwned-");
      auto payload = "$(touch " + pwned.string() + "); x `touch " + pwned.string()
                     + "` | touch " + pwned.string() + " ; echo";
      auto res = run(call({"echo", payload}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == payload + "\n");
      BOOST_TEST(!fs::exists(pwned));
    }
  }
}

// Holds by: no_new_privs and nosuid mounts: a setuid binary gains nothing.
BOOST_AUTO_TEST_CASE(setuid_binaries_do_not_raise_privileges) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(shell("for b in /usr/bin/su /usr/bin/passwd /usr/bin/mount; do "
                           "test -u $b && $b --help >/dev/null 2>&1; done; "
                           "grep -E '^(Uid|NoNewPrivs)' /proc/self/status; "
                           "mount -t tmpfs x /tmp 2>/dev/null && echo mounted; exit 0"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data.find("NoNewPrivs:\t1") != std::string::npos);
      BOOST_TEST(res->stdout_data.find("Uid:\t0") == std::string::npos);
      BOOST_TEST(res->stdout_data.find("mounted") == std::string::npos);
    }
  }
}

// Holds by: the seccomp filter (no user namespaces, so no "root" inside a
// nested namespace), while ordinary threads still work.
BOOST_AUTO_TEST_CASE(no_nested_user_namespaces_but_threads_work) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(shell("unshare -Ur id -u && echo escaped-to-root; exit 0"));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data.find("escaped-to-root") == std::string::npos);
      res = run(call({"python3", "-c",
                      "import threading\n"
                      "t = threading.Thread(target=print, args=('thread ran',))\n"
                      "t.start(); t.join()"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "thread ran\n");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
