// sandboxed_child: pipes, exit on stdin EOF, kill of every process, setup
// failures, no leaked descriptors, no zombies; isolated and, through the
// internal entry, unsandboxed.

#include <chrono>
#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandboxed_child_internal.hpp"
#include "sandbox/sandboxed_child.hpp"
#include "schemas/errors.hpp"
#include "test/sandbox/child_io.hpp"
#include "test/support/processes.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

sandbox_request command(std::vector<std::string> argv) {
  sandbox_request req;
  req.argv = std::move(argv);
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.limits.wall_timeout_ms = 0;
  return req;
}

std::unique_ptr<sandboxed_child> start_child(const sandbox_request& req, bool isolate) {
  auto c = detail::sandboxed_child_internal::start(req, isolate);
  BOOST_REQUIRE_MESSAGE(c, "starting '" << req.argv.front() << "': " << render(c));
  BOOST_TEST((*c)->isolation() == (isolate ? "namespaces" : "none"));
  return std::move(*c);
}

// Both ways a child can run: the tests below run for each.
const bool isolation_modes[] = {true, false};

void require_isolation() {
  auto avail = isolation_available();
  BOOST_REQUIRE_MESSAGE(avail, "sandboxed child tests need process isolation (root, "
                               "Linux >= 5.12): "
                                 << render(avail));
}

} // namespace

BOOST_AUTO_TEST_SUITE(sandboxed_child_suite)

BOOST_AUTO_TEST_CASE(start_uses_namespaces_where_available) {
  require_isolation();
  auto c = sandboxed_child::start(command({"true"}));
  BOOST_REQUIRE_MESSAGE(c, render(c));
  BOOST_TEST((*c)->isolation() == "namespaces");
  auto ex = (*c)->wait();
  BOOST_TEST(ex.exit_code == 0);
  BOOST_TEST(ex.failure.empty());
}

BOOST_AUTO_TEST_CASE(cat_echoes_lines_and_exits_0_when_stdin_closes) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      // stderr first, on its own pipe; then cat echoes stdin.
      auto c = start_child(command({"sh", "-c", "echo to-stderr >&2; exec cat"}), isolate);
      line_reader out{c->stdout_fd()};
      line_reader err{c->stderr_fd()};
      auto e = err.next(10s);
      BOOST_REQUIRE(e);
      BOOST_TEST(*e == "to-stderr");
      for (std::string line : {"{\"jsonrpc\":\"2.0\",\"id\":1}", "second line", ""}) {
        BOOST_REQUIRE(write_all(c->stdin_fd(), line + "\n"));
        auto got = out.next(10s);
        BOOST_REQUIRE_MESSAGE(got, "no echo of '" << line << "'");
        BOOST_TEST(*got == line);
      }
      child_exit early;
      BOOST_TEST(!c->try_wait(early));
      c->close_stdin();
      BOOST_TEST(c->stdin_fd() == -1);
      auto ex = c->wait();
      BOOST_TEST(ex.exit_code == 0);
      BOOST_TEST(ex.signal == 0);
      BOOST_TEST(ex.failure.empty());
      BOOST_TEST(c->try_wait(early));
      BOOST_TEST(early.exit_code == 0);
      // Reaped: the pid is no child of ours any more (no zombie).
      BOOST_TEST(waitpid(c->pid(), nullptr, WNOHANG) == -1);
      // Every writer is gone, so both streams end.
      BOOST_TEST(out.rest(5s).empty());
      BOOST_TEST(out.eof());
      BOOST_TEST(err.rest(5s).empty());
      BOOST_TEST(err.eof());
    }
  }
}

BOOST_AUTO_TEST_CASE(kill_ends_the_command_and_everything_it_forked) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      // Distinct durations per mode, so leftovers of one cannot pass the other.
      std::string bg = isolate ? "4711" : "4721";
      std::string fg = isolate ? "4712" : "4722";
      auto c = start_child(
        command({"sh", "-c", "sleep " + bg + " & sleep " + fg + " & echo started; wait"}),
        isolate);
      line_reader out{c->stdout_fd()};
      auto started = out.next(10s);
      BOOST_REQUIRE(started);
      BOOST_REQUIRE(eventually([&] {
        return !processes_with("sleep " + bg).empty() && !processes_with("sleep " + fg).empty();
      }));
      // From another thread while this one waits.
      std::thread killer{[&] { c->kill(); }};
      auto ex = c->wait();
      killer.join();
      BOOST_TEST(ex.signal == SIGKILL);
      BOOST_TEST(ex.exit_code == -1);
      BOOST_TEST(ex.failure.empty());
      c->kill(); // idempotent, and harmless once reaped
      if (isolate) {
        // The pid namespace died with its init: nothing is left even now.
        BOOST_TEST(processes_with("sleep " + bg).empty());
        BOOST_TEST(processes_with("sleep " + fg).empty());
      } else {
        // SIGKILL to the group was sent before the leader was reaped; the
        // kernel finishes the others asynchronously.
        BOOST_TEST(eventually([&] {
          return processes_with("sleep " + bg).empty() && processes_with("sleep " + fg).empty();
        }));
      }
      BOOST_TEST(out.rest(5s).empty());
      BOOST_TEST(out.eof());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_command_that_exits_takes_its_background_processes_along) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      std::string bg = isolate ? "4731" : "4741";
      auto c = start_child(command({"sh", "-c", "sleep " + bg + " & echo $!; exit 3"}), isolate);
      line_reader out{c->stdout_fd()};
      BOOST_REQUIRE(out.next(10s));
      auto ex = c->wait();
      BOOST_TEST(ex.exit_code == 3);
      BOOST_TEST(eventually([&] { return processes_with("sleep " + bg).empty(); }));
      // The background sleep held stdout; it is gone, so stdout ends.
      BOOST_TEST(out.rest(5s).empty());
      BOOST_TEST(out.eof());
    }
  }
}

BOOST_AUTO_TEST_CASE(destructor_kills_and_reaps) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      std::string marker = isolate ? "4751" : "4761";
      pid_t pid = -1;
      {
        auto c = start_child(command({"sh", "-c", "echo up; exec sleep " + marker}), isolate);
        pid = c->pid();
        line_reader out{c->stdout_fd()};
        BOOST_REQUIRE(out.next(10s));
        BOOST_REQUIRE(eventually([&] { return !processes_with("sleep " + marker).empty(); }));
      }
      BOOST_TEST(waitpid(pid, nullptr, WNOHANG) == -1); // reaped, not a zombie
      BOOST_TEST(eventually([&] { return processes_with("sleep " + marker).empty(); }));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_missing_program_exits_127_with_the_reason) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      for (std::string argv0 : {"troupe-no-such-program", "/usr/bin/troupe-no-such-program"}) {
        auto c = start_child(command({argv0, "--flag"}), isolate);
        auto ex = c->wait();
        BOOST_TEST(ex.exit_code == 127);
        BOOST_TEST(ex.signal == 0);
        BOOST_TEST(ex.failure.find("cannot execute '" + argv0 + "'") != std::string::npos,
                   ex.failure);
        BOOST_TEST(ex.failure.find("No such file or directory") != std::string::npos,
                   ex.failure);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failed_setup_step_is_named) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      // A hard RLIMIT_NOFILE above fs.nr_open cannot be set.
      auto req = command({"true"});
      req.limits.open_files = 0xffffffffu;
      auto c = start_child(req, isolate);
      auto ex = c->wait();
      BOOST_TEST(ex.exit_code == -1);
      BOOST_TEST(ex.failure.find("setting rlimits") != std::string::npos, ex.failure);
    }
  }
}

BOOST_AUTO_TEST_CASE(no_descriptor_of_ours_reaches_a_child) {
  require_isolation();
  for (bool isolate : isolation_modes) {
    BOOST_TEST_CONTEXT("isolated " << isolate) {
      // A holds pipes while B starts; B must see only 0, 1, 2 (and the
      // directory ls reads), and A must still get EOF when its stdin closes.
      auto a = start_child(command({"cat"}), isolate);
      auto b = start_child(command({"sh", "-c", "ls -1 /proc/self/fd; exec cat"}), isolate);
      line_reader b_out{b->stdout_fd()};
      std::set<std::string> fds;
      for (int i = 0; i < 4; ++i) {
        auto line = b_out.next(10s);
        BOOST_REQUIRE(line);
        fds.insert(*line);
      }
      BOOST_TEST((fds == std::set<std::string>{"0", "1", "2", "3"}));
      a->close_stdin();
      auto a_exit = a->wait();
      BOOST_TEST(a_exit.exit_code == 0);
      child_exit b_exit;
      BOOST_TEST(!b->try_wait(b_exit)); // B (still running cat) is unaffected
      b->close_stdin();
      BOOST_TEST(b->wait().exit_code == 0);
      BOOST_TEST(b_out.rest(5s).empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(released_pipes_belong_to_the_caller) {
  require_isolation();
  auto c = start_child(command({"cat"}), true);
  int in = c->release_stdin();
  int out = c->release_stdout();
  BOOST_TEST(in >= 0);
  BOOST_TEST(out >= 0);
  BOOST_TEST(c->stdin_fd() == -1);
  BOOST_TEST(c->release_stdin() == -1);
  stream_drain drained{out}; // a reader thread, as the MCP session runs one
  BOOST_REQUIRE(write_all(in, "over the released pipe\n"));
  ::close(in);
  BOOST_TEST(c->wait().exit_code == 0);
  BOOST_TEST(drained.text() == "over the released pipe\n");
}

BOOST_AUTO_TEST_CASE(stdin_data_is_refused) {
  auto req = command({"cat"});
  req.stdin_data = "x";
  auto c = sandboxed_child::start(req);
  BOOST_REQUIRE(!c);
  BOOST_TEST((c.error() == sandbox_errc::invalid_request));
  BOOST_TEST(render(c).find("stdin") != std::string::npos, render(c));
}

BOOST_AUTO_TEST_SUITE_END()
