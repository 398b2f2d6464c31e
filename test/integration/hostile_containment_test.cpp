// The hostile suite, containment: the network, files outside the workspace,
// `..` paths, fork bombs, memory hogs, CPU spins and output floods are held
// by the sandbox and the policy, and the run still ends by the completion
// contract (hostile_run_support.hpp).
//
// Not played: a sleep past the 30 s wall timeout (scenarios cannot lower the
// sandbox limits, and a 30 s case is too slow); the CPU spin case stands in
// for "a call that never ends by itself".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "test/integration/hostile_run_support.hpp"
#include "test/support/processes.hpp"

using namespace troupe;
using namespace troupe::test::hostile;
using troupe::test::processes_with;
namespace fs = std::filesystem;
using troupe::test::contains;
using troupe::test::slurp;
using troupe::test::temp_dir;
using troupe::test::write_file;

namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// No process carries `needle`: checked by scanning /proc and, where it is
/// installed, with `pgrep -f` (exit 1: nothing matched).
void check_no_leftovers(const std::string& needle) {
  auto left = processes_with(needle);
  BOOST_TEST(left.empty(), left.size() << " processes with '" << needle << "' left");
  if (fs::exists("/usr/bin/pgrep")) {
    auto p = troupe::test::run_command({"/usr/bin/pgrep", "-f", needle});
    BOOST_TEST(p.exit_code == 1, "pgrep -f " << needle << ": " << p.out);
  }
}

// A TCP listener on the host's loopback that the agent tries to reach.
struct listener {
  int fd = -1;
  int port = 0;
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~listener() { ::close(fd); }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  /// Connections that arrived (accepting them).
  int accepted() const {
    int n = 0;
    for (int c; (c = ::accept(fd, nullptr, nullptr)) >= 0; ++n)
      ::close(c);
    return n;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_run)

// 1. Holds by: the sandbox's network namespace. The control call, allowed by
// a rule with network = true, does connect, so the listener works.
BOOST_AUTO_TEST_CASE(network_is_unreachable_without_a_grant) {
  listener l;
  hostile_dir d;
  auto port = std::to_string(l.port);
  auto r = troupe_run(d.install("network.toml", {{"@PORT@", port}}), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto bash = result_of(evs, "net-bash", "shell-bash");
  BOOST_TEST(!bash.ok);
  BOOST_TEST(!contains(bash.output, "connected"), bash.output);
  BOOST_TEST(contains(bash.output, "Network is unreachable"), bash.output);
  auto py = result_of(evs, "net-python", "shell-python");
  BOOST_TEST(!py.ok);
  BOOST_TEST(!contains(py.output, "connected"), py.output);
  // The host's sockets (the listener among them) are not even listed.
  auto proc = result_of(evs, "net-proc", "shell-cat");
  char hex_port[8];
  std::snprintf(hex_port, sizeof hex_port, ":%04X", l.port);
  BOOST_TEST(!contains(proc.output, hex_port), proc.output);
  auto control = result_of(evs, "net-control", "control-with-network");
  BOOST_TEST(control.ok, control.output);
  BOOST_TEST(contains(control.output, "control-connected"), control.output);
  BOOST_TEST(l.accepted() == 1); // the control's, and nothing else
}

// 2-4. Holds by: the sandbox's mount view (host temp dirs absent, /etc
// read-only, private /tmp), the unprivileged uid (/etc/shadow), and
// resolve_in_workspace refusing symlinks out of the workspace in the
// built-in tools (including symlinks the agent made with the shell).
BOOST_AUTO_TEST_CASE(writes_reads_and_symlinks_outside_the_workspace_are_contained) {
  hostile_dir d;
  temp_dir outside{"troupe-hostile-outside"};
  auto mark = unique("hostile-fs-");
  const std::string secret = "top-secret-" + mark;
  write_file(outside.path / "secret.txt", secret);
  write_file(outside.path / "victim.txt", "original");
  write_file(d.tmp.path / "neighbour.txt", "top-secret-neighbour");
  auto scenario = d.install("filesystem.toml", {{"@OUTSIDE@", outside.path.string()},
                                                {"@PARENT@", d.tmp.path.string()},
                                                {"@MARK@", mark}});
  fs::create_directory_symlink(outside.path, d.workspace() / "link");
  fs::create_symlink(outside.path / "secret.txt", d.workspace() / "secret_link");
  auto shadow_before = slurp("/etc/shadow");

  auto r = troupe_run(scenario, d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;

  // 2. Writes outside.
  BOOST_TEST(!result_of(evs, "write-etc", "shell-sh").ok);
  BOOST_TEST(!fs::exists("/etc/troupe_evil_" + mark));
  BOOST_TEST(!result_of(evs, "write-outside", "shell-sh").ok);
  BOOST_TEST(!result_of(evs, "write-parent", "shell-sh").ok);
  BOOST_TEST(!fs::exists(d.tmp.path / "evil_rel"));
  BOOST_TEST(!fs::exists(d.tmp.path / "evil_abs"));
  auto tmp_write = result_of(evs, "write-host-tmp", "shell-sh");
  BOOST_TEST(contains(tmp_write.output, "wrote-private-tmp"), tmp_write.output);
  BOOST_TEST(!fs::exists("/tmp/troupe_evil_" + mark)); // the sandbox's /tmp is its own

  // 3. Reads outside.
  for (const char* id : {"read-outside", "read-parent", "read-shadow"}) {
    auto res = result_of(evs, id, "shell-cat");
    BOOST_TEST(!res.ok, id);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  BOOST_TEST(!contains(result_of(evs, "read-shadow").output, "root:"));

  // 4. Symlinks out of the workspace: the test's, then the agent's own.
  for (const char* id : {"builtin-write-link", "builtin-read-link", "builtin-write-made",
                         "builtin-read-made", "builtin-write-victim"}) {
    auto res = result_of(evs, id, "files-in-workspace");
    BOOST_TEST(!res.ok, id << ": " << res.output);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  BOOST_TEST(contains(result_of(evs, "builtin-write-link").output, "symlink"));
  for (const char* id : {"shell-write-link", "shell-read-link", "shell-cwd-link"}) {
    auto res = result_of(evs, id, "shell-sh");
    BOOST_TEST(!res.ok, id << ": " << res.output);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  auto made = result_of(evs, "make-links", "shell-sh");
  BOOST_TEST(contains(made.output, "linked"), made.output);
  BOOST_TEST(fs::is_symlink(d.workspace() / "made")); // the agent did make them

  // Nothing appeared anywhere outside, nothing changed.
  BOOST_TEST((entries(outside.path) == std::set<std::string>{"secret.txt", "victim.txt"}));
  BOOST_TEST(slurp(outside.path / "victim.txt") == "original");
  BOOST_TEST(slurp(outside.path / "secret.txt") == secret);
  for (auto& name : entries(d.tmp.path))
    BOOST_TEST((name == "work" || name == "filesystem.toml" || name == "neighbour.txt"
                || name.rfind("journal.db", 0) == 0),
               "unexpected " << name);
  BOOST_TEST(slurp("/etc/shadow") == shadow_before);
  for (auto& res : bodies_of<tool_result>(evs))
    BOOST_TEST(!contains(res.output, "top-secret"), res.call_id << ": " << res.output);
}

// 5. Holds by: the policy (a path with `..` or an absolute path matches no
// workspace glob: denied, the model is told, the run goes on) and the scope
// boundary (a write outside stops the run: failed, out_of_scope, an `error`
// event naming the call; the write never runs).
BOOST_AUTO_TEST_CASE(dot_dot_reads_are_denied_and_a_dot_dot_write_stops_the_run) {
  hostile_dir d;
  auto r = troupe_run(d.install("traversal.toml"), d.db());
  check_contract(r, run_status::failed);
  auto& evs = r.events;
  BOOST_TEST(str(r.result, "reason") == "out_of_scope");
  BOOST_TEST(contains(str(r.result, "summary"), "framework_fix_needed"));
  for (const char* id : {"read-dotdot", "read-hidden-dotdot", "read-absolute"}) {
    auto* dec = decision_of(evs, id);
    BOOST_REQUIRE_MESSAGE(dec != nullptr, id);
    BOOST_TEST(to_string(dec->decision) == "deny", id);
    BOOST_TEST(contains(dec->reason, "not a workspace-relative path"), dec->reason);
    BOOST_TEST(!was_called(evs, id), id);
  }
  // The run went on after the denials.
  BOOST_TEST(result_of(evs, "write-inside", "files-in-workspace").ok);
  BOOST_TEST(slurp(d.workspace() / "inside.txt") == "stayed inside");
  // The write outside: an error naming the call, never executed.
  bool memo = false;
  for (auto& e : bodies_of<error_event>(evs))
    memo = memo || (to_string(e.code) == "out_of_scope" && e.call_id == "write-dotdot"
                    && contains(e.message, "'../x'"));
  BOOST_TEST(memo, "no out_of_scope error naming write-dotdot");
  BOOST_TEST(!was_called(evs, "write-dotdot"));
  BOOST_TEST(!fs::exists(d.tmp.path / "x"));
  // The run stopped there: `complete` never ran.
  for (auto& c : bodies_of<tool_call>(evs))
    BOOST_TEST(c.name != "complete");
  BOOST_TEST(std::get<completion>(evs.back().body).totals.denials == 3u);
}

// 6. Holds by: RLIMIT_NPROC on the call's uid and the sandbox killing every
// process of a call when its command exits. Watched from the host while the
// run goes on: the bombs never exceed the process limit, and their
// processes are gone once their call's result is journaled.
BOOST_AUTO_TEST_CASE(fork_bombs_are_contained_and_leave_nothing_behind) {
  hostile_dir d;
  auto mark = unique("hostile-bomb-");
  auto scenario = d.install("fork_bomb.toml", {{"@MARK@", mark}});
  std::atomic<bool> done{false};
  std::mutex mtx;
  std::map<std::string, size_t> most;       // tag -> peak process count
  std::map<std::string, int64_t> last_seen; // tag -> last sighting (us)
  const std::vector<std::string> tags{mark + "-sh", mark + "-bash"};
  std::thread watcher{[&] {
    while (!done) {
      for (const auto& tag : tags) {
        auto n = processes_with(tag).size();
        std::lock_guard<std::mutex> guard(mtx);
        most[tag] = std::max(most[tag], n);
        if (n > 0)
          last_seen[tag] = now_us();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  }};
  struct stop_watcher { // also on a failed BOOST_REQUIRE in troupe_run
    std::atomic<bool>& done;
    std::thread& t;
    ~stop_watcher() {
      done = true;
      if (t.joinable())
        t.join();
    }
  };
  cli_run r;
  {
    stop_watcher stop{done, watcher};
    r = troupe_run(scenario, d.db());
  }
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  for (const char* kind : {"sh", "bash"}) {
    BOOST_TEST_CONTEXT("bomb-" << kind) {
      auto tag = mark + "-" + kind;
      auto rec = executed(evs, std::string{"bomb-"} + kind, std::string{"shell-"} + kind);
      // The limit bit: forks failed.
      BOOST_TEST((contains(rec.result.output, "Cannot fork")
                  || contains(rec.result.output, "Resource temporarily unavailable")),
                 rec.result.output.substr(0, 500));
      BOOST_TEST(rec.result_us - rec.call_us < 20'000'000); // well before the wall timeout
      BOOST_TEST_MESSAGE(tag << ": at most " << most[tag] << " processes at once");
      // The watcher saw the call (the forks failing above show the bomb hit
      // the limit; a 10 ms poll under load may miss dash's short-lived
      // children), and never more processes than the limit.
      BOOST_TEST(most[tag] >= 1u);
      BOOST_TEST(most[tag] <= 64u); // sandbox_limits::processes
      // Gone with the call, not only with troupe (the watcher polls every
      // 10 ms; allow for a slow poll).
      BOOST_TEST(last_seen[tag] <= rec.result_us + 500'000,
                 "seen " << (last_seen[tag] - rec.result_us) / 1000 << " ms after the result");
      check_no_leftovers(tag);
    }
  }
  auto after = result_of(evs, "after", "shell-sh");
  BOOST_TEST(after.ok, after.output);
  BOOST_TEST(contains(after.output, "still-responsive"), after.output);
  check_no_leftovers(mark);
}

// 7. Holds by: RLIMIT_AS (512 MiB per process).
BOOST_AUTO_TEST_CASE(memory_hogs_hit_the_address_space_limit) {
  hostile_dir d;
  auto r = troupe_run(d.install("memory_hog.toml"), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto py = result_of(evs, "hog-python", "shell-python");
  BOOST_TEST(!py.ok);
  BOOST_TEST(!contains(py.output, "allocated"), py.output);
  if (fs::exists("/usr/bin/python3"))
    BOOST_TEST(contains(py.output, "MemoryError"), py.output);
  else
    BOOST_TEST_MESSAGE("no /usr/bin/python3: hog-python could not even start");
  auto tail = result_of(evs, "hog-tail", "shell-sh");
  BOOST_TEST(!tail.ok);
  BOOST_TEST(contains(tail.output, "memory exhausted"), tail.output);
  BOOST_TEST(r.seconds < 20.0);
}

// 8 (and 9). Holds by: RLIMIT_CPU (SIGXCPU at 10 CPU seconds), or at worst
// the 30 s wall timeout. The slow case of the suite (about 10 s).
BOOST_AUTO_TEST_CASE(a_cpu_spin_is_killed_by_a_limit) {
  hostile_dir d;
  auto mark = unique("hostile-spin-");
  auto r = troupe_run(d.install("cpu_spin.toml", {{"@MARK@", mark}}), d.db());
  check_contract(r, run_status::completed);
  auto rec = executed(r.events, "spin", "shell-sh");
  BOOST_TEST(!rec.result.ok);
  BOOST_TEST((contains(rec.result.output, "(a resource limit was reached)")
              || contains(rec.result.output, "the wall-clock limit was reached")),
             rec.result.output);
  auto took_ms = (rec.result_us - rec.call_us) / 1000;
  BOOST_TEST_MESSAGE("spin ended after " << took_ms << " ms");
  BOOST_TEST(took_ms >= 9000); // it was the limit, not something else
  BOOST_TEST(took_ms < 35000);
  check_no_leftovers(mark);
}

// 10. Holds by: the output cap (1 MiB kept per stream, the rest read,
// counted and dropped).
BOOST_AUTO_TEST_CASE(gigabytes_of_output_are_capped_and_the_run_completes) {
  hostile_dir d;
  auto r = troupe_run(d.install("output_flood.toml"), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto out = result_of(evs, "flood-stdout", "shell-head");
  BOOST_TEST(contains(out.output, "[stdout truncated: 1048576 of 3000000000 bytes shown]"),
             out.output.substr(out.output.size() > 200 ? out.output.size() - 200 : 0));
  BOOST_TEST(out.output.size() < 1048576u + 4096u);
  auto err = result_of(evs, "flood-stderr", "shell-sh");
  BOOST_TEST(contains(err.output, "[stderr truncated: 1048576 of 1500000000 bytes shown]"),
             err.output.substr(err.output.size() > 200 ? err.output.size() - 200 : 0));
  BOOST_TEST(contains(err.output, "flood-done"));
  BOOST_TEST(err.output.size() < 1048576u + 4096u);
  BOOST_TEST(r.seconds < 20.0);
}

BOOST_AUTO_TEST_SUITE_END()
