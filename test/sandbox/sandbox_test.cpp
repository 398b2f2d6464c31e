// The sandbox doing its job for well-behaved commands, through both the cold
// path (run_sandboxed) and the pool; redact(); the pool's worker lifecycle.

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/detail/pool_protocol.hpp"
#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "core/sandbox_spec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/processes.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {
// Defined in main.cpp: one workspace and one pool shared by the binary.
std::string sandbox_worker_binary();
const std::filesystem::path& shared_workspace();
sandbox_pool& shared_pool();
std::vector<std::pair<std::string,
                      std::function<caf::expected<sandbox_result>(const sandbox_request&)>>>
sandbox_paths();
} // namespace troupe::test

namespace {

using namespace troupe;
using namespace troupe::test;
namespace fs = std::filesystem;

sandbox_request call(std::vector<std::string> argv) {
  sandbox_request req;
  req.argv = std::move(argv);
  req.writable_roots = {shared_workspace()};
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.limits.wall_timeout_ms = 10000;
  return req;
}

// A fresh directory inside the shared workspace for one test and path.
fs::path scratch(const std::string& test, const std::string& path) {
  auto dir = shared_workspace() / (test + "-" + path);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}


} // namespace

BOOST_AUTO_TEST_SUITE(sandbox)

BOOST_AUTO_TEST_SUITE(redaction)

BOOST_AUTO_TEST_CASE(replaces_every_occurrence_with_the_name) {
  auto out = redact("key=abc123; again abc123.", {{"API_KEY", "abc123"}});
  BOOST_TEST(out == "key=[REDACTED:API_KEY]; again [REDACTED:API_KEY].");
}

BOOST_AUTO_TEST_CASE(longest_value_wins_where_values_overlap) {
  auto out = redact("token=abcdef", {{"SHORT", "abc"}, {"LONG", "abcdef"}});
  BOOST_TEST(out == "token=[REDACTED:LONG]");
  out = redact("abc then abcdef", {{"SHORT", "abc"}, {"LONG", "abcdef"}});
  BOOST_TEST(out == "[REDACTED:SHORT] then [REDACTED:LONG]");
}

BOOST_AUTO_TEST_CASE(empty_values_and_no_secrets_leave_text_alone) {
  BOOST_TEST(redact("nothing here", {}) == "nothing here");
  BOOST_TEST(redact("nothing here", {{"EMPTY", ""}}) == "nothing here");
  BOOST_TEST(redact("", {{"A", "x"}}) == "");
}

BOOST_AUTO_TEST_CASE(replacements_are_not_scanned_again) {
  // The replacement text contains the second secret's value.
  auto out = redact("s3cret", {{"RED", "s3cret"}, {"OTHER", "RED"}});
  BOOST_TEST(out == "[REDACTED:RED]");
}

BOOST_AUTO_TEST_CASE(binary_text_and_adjacent_occurrences) {
  std::string text = std::string{"\0pw\0pwpw", 8};
  auto out = redact(text, {{"P", "pw"}});
  BOOST_TEST(out == (std::string{"\0[REDACTED:P]\0[REDACTED:P][REDACTED:P]", 38}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(basics)

BOOST_AUTO_TEST_CASE(isolation_is_available_and_probed) {
  auto avail = isolation_available();
  BOOST_REQUIRE_MESSAGE(avail, render(avail));
  BOOST_TEST(*avail == "namespaces");
  auto probe = probe_isolation();
  BOOST_TEST(probe.ok());
  BOOST_TEST(probe.detail == "");
}

BOOST_AUTO_TEST_CASE(echo_runs_isolated_as_an_unprivileged_uid) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(call({"sh", "-c", "echo hello; id -u; grep CapEff /proc/self/status"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 0);
      BOOST_TEST(res->signal == 0);
      BOOST_TEST(!res->timed_out);
      BOOST_TEST(!res->limit_breached);
      BOOST_TEST(res->isolation == "namespaces");
      BOOST_TEST(res->stdout_data.rfind("hello\n", 0) == 0);
      BOOST_TEST(res->stdout_data.find("\n0\n") == std::string::npos); // not root
      BOOST_TEST(res->stdout_data.find("CapEff:\t0000000000000000") != std::string::npos);
      BOOST_TEST(res->wall_us > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(stdin_reaches_the_command_byte_for_byte) {
  std::string big(3 * 1024 * 1024 / 2, 'x'); // more than any pipe buffer
  big[7] = '\0';
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"cat"});
      req.stdin_data = big;
      req.limits.output_cap_bytes = 4 * 1024 * 1024;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 0);
      BOOST_TEST((res->stdout_data == big));
      BOOST_TEST(!res->stdout_truncated);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_command_that_stops_reading_stdin_is_fine) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"true"});
      req.stdin_data = std::string(4 * 1024 * 1024, 'y'); // EPIPE, never SIGPIPE
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(exit_codes_signals_and_missing_programs) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(call({"sh", "-c", "echo oops >&2; exit 7"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 7);
      BOOST_TEST(res->stderr_data == "oops\n");
      res = run(call({"sh", "-c", "kill -TERM $$"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == -1);
      BOOST_TEST(res->signal == SIGTERM);
      BOOST_TEST(!res->limit_breached);
      res = run(call({"no-such-program-troupe"}));
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 127);
      BOOST_TEST(res->stderr_data.find("no-such-program-troupe") != std::string::npos);
      res = run(call({"/etc/hostname"})); // exists, not executable
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 126);
    }
  }
}

BOOST_AUTO_TEST_CASE(cwd_absolute_relative_and_default) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto dir = scratch("cwd", name);
      auto req = call({"pwd"});
      req.cwd = dir;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == dir.string() + "\n");
      req.cwd = dir.filename(); // relative to the first writable root
      res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == dir.string() + "\n");
      req.cwd.clear();
      res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == fs::canonical(shared_workspace()).string() + "\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(files_written_in_the_workspace_belong_to_its_owner) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto dir = scratch("owner", name);
      auto req = call({"sh", "-c", "echo data > out.txt && mkdir sub && echo more > sub/f"});
      req.cwd = dir;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->exit_code == 0);
      BOOST_TEST(res->stderr_data == "");
      BOOST_TEST(slurp(dir / "out.txt") == "data\n");
      BOOST_TEST(slurp(dir / "sub" / "f") == "more\n");
      struct stat ws{}, f{};
      BOOST_REQUIRE(stat(shared_workspace().c_str(), &ws) == 0);
      BOOST_REQUIRE(stat((dir / "out.txt").c_str(), &f) == 0);
      BOOST_TEST(f.st_uid == ws.st_uid); // idmapped: not the sandbox uid
      BOOST_TEST(f.st_gid == ws.st_gid);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_environment_is_exactly_the_requested_one) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"env"});
      req.env = {{"PATH", "/usr/bin:/bin"}, {"GRANTED", "yes"}};
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "GRANTED=yes\nPATH=/usr/bin:/bin\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(tmp_is_private_and_fresh_for_every_call) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      // Enough calls that the pool reuses a worker for the second one.
      for (int i = 0; i < 3; ++i) {
        auto res = run(call({"sh", "-c", "test ! -e /tmp/leftover && touch /tmp/leftover"}));
        BOOST_REQUIRE_MESSAGE(res, render(res));
        BOOST_TEST(res->exit_code == 0);
      }
      BOOST_TEST(!fs::exists("/tmp/leftover"));
    }
  }
}

BOOST_AUTO_TEST_CASE(output_is_capped_and_counted) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"sh", "-c", "echo 0123456789abcdef; echo short >&2"});
      req.limits.output_cap_bytes = 10;
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "0123456789");
      BOOST_TEST(res->stdout_truncated);
      BOOST_TEST(res->stdout_bytes_total == 17u);
      BOOST_TEST(res->stderr_data == "short\n");
      BOOST_TEST(!res->stderr_truncated);
      BOOST_TEST(res->limit_breached);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_anything_runs) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto res = run(call({}));
      BOOST_REQUIRE(!res);
      BOOST_TEST((res.error() == sandbox_errc::invalid_request));
      res = run(call({"echo", std::string{"a\0b", 3}}));
      BOOST_REQUIRE(!res);
      BOOST_TEST((res.error() == sandbox_errc::invalid_request));
      auto req = call({"pwd"});
      req.cwd = "/etc";
      res = run(req);
      BOOST_REQUIRE(!res);
      BOOST_TEST((res.error() == sandbox_errc::invalid_request));
      BOOST_TEST(render(res).find("outside the writable roots") != std::string::npos);
      req = call({"pwd"});
      req.writable_roots = {"relative/dir"};
      res = run(req);
      BOOST_REQUIRE(!res);
      BOOST_TEST((res.error() == sandbox_errc::invalid_request));
      req.writable_roots = {"/"};
      res = run(req);
      BOOST_REQUIRE(!res);
      BOOST_TEST((res.error() == sandbox_errc::invalid_request));
    }
  }
}

BOOST_AUTO_TEST_CASE(no_writable_roots_runs_in_the_private_tmp) {
  for (auto& [name, run] : sandbox_paths()) {
    BOOST_TEST_CONTEXT(name) {
      auto req = call({"sh", "-c", "pwd; echo x > f && cat f"});
      req.writable_roots.clear();
      auto res = run(req);
      BOOST_REQUIRE_MESSAGE(res, render(res));
      BOOST_TEST(res->stdout_data == "/tmp\nx\n");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool)

pool_config small_pool(const fs::path& root, size_t workers) {
  pool_config cfg;
  cfg.workers = workers;
  cfg.worker_binary = sandbox_worker_binary();
  cfg.writable_roots = {root};
  return cfg;
}

BOOST_AUTO_TEST_CASE(workers_are_recycled_after_max_calls) {
  temp_dir dir{"troupe-pool"};
  auto cfg = small_pool(dir.path, 1);
  cfg.max_calls_per_worker = 2;
  auto pool = sandbox_pool::start(cfg);
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  auto req = call({"true"});
  req.writable_roots = {dir.path};
  for (int i = 0; i < 5; ++i) {
    auto res = (*pool)->run(req);
    BOOST_REQUIRE_MESSAGE(res, render(res));
    BOOST_TEST(res->exit_code == 0);
  }
  auto s = (*pool)->stats();
  BOOST_TEST(s.calls == 5u);
  BOOST_TEST(s.retired_max_calls == 2u);
  BOOST_TEST(s.started >= 3u);
  BOOST_TEST(s.crashed == 0u);
}

// The worker enters a new IPC namespace after each call, for the next
// command to inherit; one worker, so every call reuses it.
BOOST_AUTO_TEST_CASE(sysv_ipc_objects_do_not_reach_the_next_call) {
  temp_dir dir{"troupe-pool-ipc"};
  auto pool = sandbox_pool::start(small_pool(dir.path, 1));
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  const std::string count =
    "n = sum(len(open('/proc/sysvipc/' + k).readlines()) - 1 for k in ('shm', 'msg', 'sem'))\n";
  auto leave = call({"python3", "-c",
                     "import ctypes\nlibc = ctypes.CDLL(None)\n"
                     "libc.shmget(4242, 4096, 0o1600); libc.msgget(4242, 0o1600); "
                     "libc.semget(4242, 1, 0o1600)\n"
                       + count + "print(n)\n"});
  leave.writable_roots = {dir.path};
  auto look = call({"python3", "-c", count + "print(n)\n"});
  look.writable_roots = {dir.path};
  for (int i = 0; i < 2; ++i) {
    auto made = (*pool)->run(leave);
    BOOST_REQUIRE_MESSAGE(made, render(made));
    BOOST_TEST(made->stdout_data == "3\n", made->stderr_data);
    auto next = (*pool)->run(look);
    BOOST_REQUIRE_MESSAGE(next, render(next));
    BOOST_TEST(next->stdout_data == "0\n", next->stderr_data);
  }
  BOOST_TEST((*pool)->stats().started == 1u);
}

BOOST_AUTO_TEST_CASE(a_worker_killed_mid_call_fails_that_call_and_is_replaced) {
  temp_dir dir{"troupe-pool-kill"};
  auto pool = sandbox_pool::start(small_pool(dir.path, 1));
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  // A unique duration doubles as a marker to look for leftovers.
  auto marker = "20." + std::to_string(getpid());
  auto req = call({"sleep", marker});
  req.writable_roots = {dir.path};
  caf::expected<sandbox_result> res{sandbox_result{}};
  auto t0 = std::chrono::steady_clock::now();
  std::thread caller{[&] { res = (*pool)->run(req); }};
  // The worker's command line names its writable root, which is unique.
  std::vector<int> workers;
  for (int i = 0; i < 200 && workers.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    workers = processes_with("--root " + dir.path.string());
  }
  BOOST_REQUIRE(!workers.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds{200}); // mid-call
  for (int pid : workers)
    kill(pid, SIGKILL);
  caller.join();
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == sandbox_errc::worker_crashed));
  BOOST_TEST(render(res).find("'sleep'") != std::string::npos);
  BOOST_TEST((took < std::chrono::seconds{10}));
  auto again = req;
  again.argv = {"true"};
  auto next = (*pool)->run(again);
  BOOST_REQUIRE_MESSAGE(next, render(next));
  BOOST_TEST(next->exit_code == 0);
  BOOST_TEST((*pool)->stats().crashed >= 1u);
  BOOST_TEST(processes_with("sleep " + marker).empty());
}

BOOST_AUTO_TEST_CASE(a_worker_that_died_idle_is_replaced_without_failing_a_call) {
  temp_dir dir{"troupe-pool-idle"};
  auto pool = sandbox_pool::start(small_pool(dir.path, 1));
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  for (int pid : processes_with("--root " + dir.path.string()))
    kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  auto req = call({"echo", "ok"});
  req.writable_roots = {dir.path};
  auto res = (*pool)->run(req);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->stdout_data == "ok\n");
  BOOST_TEST((*pool)->stats().crashed == 1u);
}

BOOST_AUTO_TEST_CASE(calls_with_another_profile_get_a_compatible_worker) {
  temp_dir a{"troupe-pool-a"};
  temp_dir b{"troupe-pool-b"};
  auto cfg = small_pool(a.path, 1);
  cfg.max_workers = 2;
  auto pool = sandbox_pool::start(cfg);
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  auto in_b = call({"sh", "-c", "echo b > f"});
  in_b.writable_roots = {b.path};
  auto res = (*pool)->run(in_b);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->exit_code == 0);
  BOOST_TEST(slurp(b.path / "f") == "b\n");
  auto in_a = call({"sh", "-c", "echo a > f; test ! -e " + (b.path / "f").string()});
  in_a.writable_roots = {a.path};
  res = (*pool)->run(in_a);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->exit_code == 0); // b's root is not visible to a's worker
  auto net = in_a;
  net.network = true;
  net.argv = {"true"};
  res = (*pool)->run(net); // a third profile: evicts an idle worker
  BOOST_REQUIRE_MESSAGE(res, render(res));
  auto s = (*pool)->stats();
  BOOST_TEST(s.started >= 3u);
  BOOST_TEST(s.evicted >= 1u);
  BOOST_TEST(s.live <= 2u);
}

BOOST_AUTO_TEST_CASE(a_root_deleted_and_created_again_gets_a_fresh_worker) {
  temp_dir dir{"troupe-pool-recreate"};
  auto root = dir.path / "ws";
  fs::create_directories(root);
  auto pool = sandbox_pool::start(small_pool(root, 1));
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  auto req = call({"sh", "-c", "echo one > f"});
  req.writable_roots = {root};
  auto res = (*pool)->run(req);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  fs::remove_all(root);
  fs::create_directories(root);
  req.argv = {"sh", "-c", "echo two > f"};
  res = (*pool)->run(req);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->exit_code == 0);
  BOOST_TEST(slurp(root / "f") == "two\n"); // written where the host sees it
  // The old worker is either evicted at the next call or, when its /tmp
  // reset ran after the deletion, has already exited (noticed as crashed).
  auto s = (*pool)->stats();
  BOOST_TEST(s.evicted + s.crashed >= 1u);
  BOOST_TEST(s.started >= 2u);
}

BOOST_AUTO_TEST_CASE(oversized_io_is_refused) {
  auto req = call({"cat"});
  req.limits.output_cap_bytes = sandbox_max_io_bytes + 1;
  auto res = shared_pool().run(req);
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == sandbox_errc::invalid_request));
}

BOOST_AUTO_TEST_CASE(concurrent_calls_are_served_in_parallel) {
  auto& pool = shared_pool();
  std::vector<std::thread> threads;
  std::vector<std::string> outcomes(4);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < outcomes.size(); ++i)
    threads.emplace_back([&, i] {
      auto res = pool.run(call({"sleep", "0.5"}));
      outcomes[i] = res ? "exit " + std::to_string(res->exit_code) + ", signal "
                            + std::to_string(res->signal) + ", " + res->stderr_data
                        : render(res);
    });
  for (auto& t : threads)
    t.join();
  for (const auto& o : outcomes)
    BOOST_TEST(o == "exit 0, signal 0, ");
  // 4 calls of 0.5 s on up to 4 workers: well under the 2 s of a serial run.
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds{1900}));
}

BOOST_AUTO_TEST_CASE(cold_calls_from_many_threads_do_not_interfere) {
  // Each thread's sandboxes run under a uid made from its thread id; the
  // forked children of this multi-threaded process must not wait on locks
  // or threads they inherited.
  std::vector<std::thread> threads;
  std::vector<std::string> outcomes(3);
  for (size_t i = 0; i < outcomes.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 3; ++k) {
        auto res = run_sandboxed(call({"sh", "-c", "sleep 0.1; id -u"}));
        outcomes[i] += res ? "exit " + std::to_string(res->exit_code) + ";"
                           : render(res) + ";";
      }
    });
  for (auto& t : threads)
    t.join();
  for (const auto& o : outcomes)
    BOOST_TEST(o == "exit 0;exit 0;exit 0;");
}

BOOST_AUTO_TEST_CASE(a_missing_worker_binary_is_a_clear_start_error) {
  pool_config cfg;
  cfg.workers = 1;
  cfg.worker_binary = "/nonexistent/troupe-sandbox-worker";
  auto pool = sandbox_pool::start(cfg);
  BOOST_REQUIRE(!pool);
  BOOST_TEST((pool.error() == sandbox_errc::spawn_failed));
  BOOST_TEST(render(pool).find("/nonexistent/troupe-sandbox-worker") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wire_codec_round_trips_binary_data) {
  sandbox_request req = call({"cat", std::string{"\xff\xfe", 2}});
  req.stdin_data = std::string{"\0\x01\xff", 3};
  req.cwd = "/x";
  req.network = true;
  req.limits.processes = 7;
  auto back = detail::decode_request(detail::encode_request(req));
  BOOST_REQUIRE_MESSAGE(back, render(back));
  BOOST_TEST(back->argv == req.argv);
  BOOST_TEST(back->stdin_data == req.stdin_data);
  BOOST_TEST(back->network);
  BOOST_TEST(back->limits.processes == 7u);
  BOOST_TEST((back->env == req.env));
  sandbox_result r;
  r.exit_code = 3;
  r.stdout_data = std::string{"\0out", 4};
  r.stdout_truncated = true;
  auto rb = detail::decode_reply(detail::encode_reply(r));
  BOOST_REQUIRE_MESSAGE(rb, render(rb));
  BOOST_TEST(rb->exit_code == 3);
  BOOST_TEST(rb->stdout_data == r.stdout_data);
  auto err = detail::decode_reply(detail::encode_reply(
    caf::make_error(sandbox_errc::invalid_request, "bad cwd")));
  BOOST_REQUIRE(!err);
  BOOST_TEST((err.error() == sandbox_errc::invalid_request));
  BOOST_TEST(render(err) == "bad cwd");
  auto garbage = detail::decode_reply("\x01\x02not cbor");
  BOOST_REQUIRE(!garbage);
  BOOST_TEST((garbage.error() == sandbox_errc::protocol_error));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END() // sandbox
