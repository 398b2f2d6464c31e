#pragma once
// Real MCP servers for the session tests, started as child processes with
// pipes (posix_spawnp through net's command spawner, in a process group of
// their own): the misbehaving python3 peer (test/peers/mcp_misbehaving.py)
// and the pinned npm servers scripts/mcp-peers.sh installs. Plus probes that
// wait for a session's callbacks with a bound, never a sleep.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mcp/mcp_types.hpp"
#include "mcp/session.hpp"
#include "net/detail/command_spawn.hpp"

namespace troupe::test {

using namespace std::chrono_literals;

inline const std::string mcp_peer_script = std::string{TROUPE_PEERS} + "/mcp_misbehaving.py";

/// node_modules/.bin/NAME of the npm servers; fails the test (never skips)
/// when they are not installed.
inline std::string npm_server(const std::string& name) {
  std::filesystem::path bin = std::filesystem::path{TROUPE_MCP_PEERS} / "node_modules/.bin" / name;
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(bin),
                        bin.string() << " is missing: run scripts/mcp-peers.sh (it installs the "
                                        "pinned MCP test servers from npm)");
  return bin.string();
}

/// A started child: its pid, and the pipes and kill/reap a session takes.
/// `status` is the wait status once the session reaped it, else -1.
struct started_server {
  pid_t pid = -1;
  mcp::stdio_pipes pipes;
  std::shared_ptr<std::atomic<int>> status = std::make_shared<std::atomic<int>>(-1);
};

inline started_server spawn_server(const std::vector<std::string>& argv,
                                   const std::vector<std::string>& env = {}) {
  net::detail::child_pipes p;
  BOOST_REQUIRE_EQUAL(p.open(), 0);
  started_server s;
  int rc = net::detail::spawn_child(argv, env, p, s.pid);
  BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0] << ": " << net::detail::errno_text(rc));
  p.close_child_ends();
  s.pipes.stdin_fd = std::exchange(p.in_w, -1);
  s.pipes.stdout_fd = std::exchange(p.out_r, -1);
  s.pipes.stderr_fd = std::exchange(p.err_r, -1);
  pid_t pid = s.pid;
  s.pipes.kill = [pid] { ::kill(-pid, SIGKILL); };
  auto status = s.status;
  s.pipes.reap = [pid, status] {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    status->store(st);
    return st;
  };
  return s;
}

inline started_server spawn_peer(std::vector<std::string> options) {
  std::vector<std::string> argv{"python3", mcp_peer_script};
  argv.insert(argv.end(), options.begin(), options.end());
  return spawn_server(argv);
}

inline mcp::session_options options(std::string name = "peer") {
  mcp::session_options o;
  o.name = std::move(name);
  o.startup_timeout = 20s;
  return o;
}

/// Receives one call's `done` and counts how often it ran.
class call_probe {
public:
  std::function<void(mcp_call_result)> callback() {
    return [s = state_](mcp_call_result r) {
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->times++ == 0)
        s->result = std::move(r);
      s->cv.notify_all();
    };
  }
  /// The result; fails the test when `done` did not run within `limit`.
  mcp_call_result wait(std::chrono::milliseconds limit = 30s) {
    std::unique_lock<std::mutex> lock(state_->mu);
    BOOST_REQUIRE_MESSAGE(state_->cv.wait_for(lock, limit, [&] { return state_->times > 0; }),
                          "done did not run within " << limit.count() << " ms");
    return state_->result;
  }
  [[nodiscard]] bool ran() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->times > 0;
  }
  [[nodiscard]] int times() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->times;
  }

private:
  struct shared {
    mutable std::mutex mu;
    std::condition_variable cv;
    int times = 0;
    mcp_call_result result;
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

/// Counts events and waits for them.
class event_probe {
public:
  std::function<void()> callback() {
    return [s = state_] {
      std::lock_guard<std::mutex> lock(s->mu);
      ++s->count;
      s->cv.notify_all();
    };
  }
  std::function<void(std::string)> text_callback() {
    return [s = state_](std::string why) {
      std::lock_guard<std::mutex> lock(s->mu);
      ++s->count;
      s->text = std::move(why);
      s->cv.notify_all();
    };
  }
  bool wait(int count, std::chrono::milliseconds limit = 30s) {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->cv.wait_for(lock, limit, [&] { return state_->count >= count; });
  }
  [[nodiscard]] int count() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->count;
  }
  [[nodiscard]] std::string text() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->text;
  }

private:
  struct shared {
    mutable std::mutex mu;
    std::condition_variable cv;
    int count = 0;
    std::string text;
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

/// A port nobody listened on a moment ago.
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// A server process the test itself talks to only through the network (the
/// HTTP MCP server): its stdout and stderr are collected by a thread, so
/// the test can wait for what it prints. Killed and reaped at the end.
class watched_process {
public:
  watched_process(const std::vector<std::string>& argv, const std::vector<std::string>& env)
    : server_(spawn_server(argv, env)) {
    ::close(std::exchange(server_.pipes.stdin_fd, -1));
    reader_ = std::thread([this] { read(); });
  }
  ~watched_process() {
    server_.pipes.kill();
    reader_.join();
    server_.pipes.reap();
  }
  watched_process(const watched_process&) = delete;
  watched_process& operator=(const watched_process&) = delete;

  /// Waits until the output (stdout and stderr together) contains `text`.
  bool wait_for(const std::string& text, std::chrono::milliseconds limit = 30s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return output_.find(text) != std::string::npos; });
  }
  std::string output() const {
    std::lock_guard<std::mutex> lock(mu_);
    return output_;
  }

private:
  void read() {
    int fds[2] = {server_.pipes.stdout_fd, server_.pipes.stderr_fd};
    int open = 2;
    while (open > 0) {
      pollfd p[2];
      nfds_t n = 0;
      for (int fd : fds)
        if (fd >= 0)
          p[n++] = {fd, POLLIN, 0};
      if (::poll(p, n, -1) < 0 && errno != EINTR)
        return;
      for (nfds_t i = 0; i < n; ++i) {
        if (p[i].revents == 0)
          continue;
        char buf[4096];
        ssize_t got = ::read(p[i].fd, buf, sizeof buf);
        if (got > 0) {
          std::lock_guard<std::mutex> lock(mu_);
          output_.append(buf, static_cast<size_t>(got));
          cv_.notify_all();
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          for (int& fd : fds)
            if (fd == p[i].fd) {
              ::close(fd);
              fd = -1;
            }
          --open;
        }
      }
    }
  }

  started_server server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;
  std::thread reader_;
};

} // namespace troupe::test
