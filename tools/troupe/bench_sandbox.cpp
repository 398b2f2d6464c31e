// `troupe bench sandbox`: the cold path (a new sandbox per call) against the
// pre-started pool, on the cheapest possible command, so the figures are the
// sandbox's own cost per call. Both are set against the floor: the same
// command started with posix_spawn outside any sandbox, its stdin, stdout and
// stderr through pipes as the sandbox has them, which no sandbox can beat.

#include "schemas/json_text.hpp"
#include "tools/troupe/bench_sandbox.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "schemas/errors.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

int64_t micros_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0)
    .count();
}

int64_t percentile(std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

sandbox_request trivial_call(const fs::path& workspace) {
  sandbox_request req;
  req.argv = {"/bin/true"};
  req.writable_roots = {workspace};
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  return req;
}

// Closes on scope exit, so every return path of floor_call leaks nothing.
struct fd_closer {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  ~fd_closer() {
    for (int fd : fds)
      if (fd >= 0)
        close(fd);
  }
};

caf::expected<sandbox_result> floor_error(const char* what, int err) {
  return caf::make_error(sandbox_errc::spawn_failed,
                         std::string{"floor: "} + what + ": " + std::strerror(err));
}

// The floor of a process call: what the sandbox does for the command's I/O
// (three pipes, the stdin end closed at once, both outputs read to EOF, the
// status reaped), without any isolation.
caf::expected<sandbox_result> floor_call(const sandbox_request& req) {
  std::vector<std::string> env_storage;
  for (const auto& [key, value] : req.env)
    env_storage.push_back(key + "=" + value);
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<std::string> arg_storage = req.argv;
  for (auto& a : arg_storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_storage)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  fd_closer fds; // in r/w, out r/w, err r/w
  for (int i = 0; i < 3; ++i)
    if (pipe2(&fds.fds[2 * i], O_CLOEXEC) != 0)
      return floor_error("pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds.fds[0], 0);
  posix_spawn_file_actions_adddup2(&fa, fds.fds[3], 1);
  posix_spawn_file_actions_adddup2(&fa, fds.fds[5], 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return floor_error("posix_spawn", rc);
  for (int i : {0, 1, 3, 5}) { // the child's ends, and stdin: no input
    close(fds.fds[i]);
    fds.fds[i] = -1;
  }
  sandbox_result res;
  pollfd p[2] = {{fds.fds[2], POLLIN, 0}, {fds.fds[4], POLLIN, 0}};
  std::string* sinks[2] = {&res.stdout_data, &res.stderr_data};
  char buf[65536];
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      return floor_error("poll", errno);
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0)
        continue;
      auto n = read(p[i].fd, buf, sizeof buf);
      if (n > 0)
        sinks[i]->append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR)
        p[i].fd = -1; // fd_closer closes it
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return floor_error("waitpid", errno);
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  res.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  res.isolation = "none";
  return res;
}

struct phase {
  std::vector<int64_t> latencies_us;
  std::string error;
};

template <class Run>
phase measure(uint64_t calls, Run&& run) {
  phase out;
  out.latencies_us.reserve(calls);
  for (uint64_t i = 0; i < calls; ++i) {
    auto t0 = clock_type::now();
    auto res = run();
    auto us = micros_since(t0);
    if (!res) {
      out.error = render(res.error());
      return out;
    }
    if (res->exit_code != 0) {
      out.error = "/bin/true exited with " + std::to_string(res->exit_code) + ": "
                  + res->stderr_data;
      return out;
    }
    out.latencies_us.push_back(us);
  }
  return out;
}

} // namespace

int bench_sandbox(const bench_sandbox_options& opts) {
  auto progress = [&](const char* what) {
    if (!opts.json)
      std::fprintf(stderr, "%s (%llu calls)...\n", what,
                   static_cast<unsigned long long>(opts.calls));
  };
  if (auto avail = isolation_available(); !avail) {
    std::cerr << "troupe: bench sandbox: " << render(avail.error()) << "\n";
    return exit_failure;
  }
  auto worker = find_sandbox_worker(opts.worker_binary);
  if (worker.empty()) {
    std::cerr << "troupe: bench sandbox: troupe-sandbox-worker not found next to "
                 "troupe or on the PATH; pass --worker\n";
    return exit_usage;
  }
  char tmpl[] = "/tmp/troupe-bench-sandbox-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("troupe: bench sandbox: mkdtemp");
    return exit_failure;
  }
  fs::path workspace = tmpl;
  auto req = trivial_call(workspace);

  // The floor first, on a quiet machine: the cold phase leaves namespaces
  // behind that the kernel tears down in the background for a while.
  progress("1/3 floor: posix_spawn, no sandbox");
  auto floor_phase = measure(opts.calls, [&] { return floor_call(req); });

  progress("2/3 pooled: pre-started workers");
  pool_config cfg;
  cfg.workers = 2;
  cfg.worker_binary = worker;
  cfg.writable_roots = {workspace};
  auto t0 = clock_type::now();
  auto pool = sandbox_pool::start(cfg);
  auto pool_start_us = micros_since(t0);
  phase pooled;
  pool_stats stats;
  if (!pool) {
    pooled.error = render(pool.error());
  } else {
    pooled = measure(opts.calls, [&] { return (*pool)->run(req); });
    stats = (*pool)->stats();
    pool->reset();
  }

  progress("3/3 cold: a new sandbox per call");
  auto cold = measure(opts.calls, [&] { return run_sandboxed(req); });
  std::error_code ec;
  fs::remove_all(workspace, ec);
  for (auto* p : {&floor_phase, &cold, &pooled})
    if (!p->error.empty()) {
      std::cerr << "troupe: bench sandbox failed: " << p->error << "\n";
      return exit_failure;
    }
  auto floor_p50 = percentile(floor_phase.latencies_us, 0.50);
  auto floor_p99 = percentile(floor_phase.latencies_us, 0.99);
  auto cold_p50 = percentile(cold.latencies_us, 0.50);
  auto cold_p99 = percentile(cold.latencies_us, 0.99);
  auto pool_p50 = percentile(pooled.latencies_us, 0.50);
  auto pool_p99 = percentile(pooled.latencies_us, 0.99);
  auto ratio = [](int64_t a, int64_t b) {
    return static_cast<double>(a) / static_cast<double>(std::max<int64_t>(b, 1));
  };
  double ratio_p50 = ratio(cold_p50, pool_p50);
  double ratio_p99 = ratio(cold_p99, pool_p99);
  double pooled_vs_floor_p50 = ratio(pool_p50, floor_p50);
  double pooled_vs_floor_p99 = ratio(pool_p99, floor_p99);
  double cold_vs_floor_p50 = ratio(cold_p50, floor_p50);
  constexpr double target_pooled_vs_floor_p50 = 1.5;
  if (opts.json) {
    nlohmann::ordered_json out{{"bench", "sandbox"},
                               {"calls", opts.calls},
                               {"command", "/bin/true"},
                               {"isolation", "namespaces"},
                               {"floor_p50_us", floor_p50},
                               {"floor_p99_us", floor_p99},
                               {"cold_p50_us", cold_p50},
                               {"cold_p99_us", cold_p99},
                               {"pooled_p50_us", pool_p50},
                               {"pooled_p99_us", pool_p99},
                               {"ratio_p50", ratio_p50},
                               {"ratio_p99", ratio_p99},
                               {"pooled_vs_floor_p50", pooled_vs_floor_p50},
                               {"pooled_vs_floor_p99", pooled_vs_floor_p99},
                               {"cold_vs_floor_p50", cold_vs_floor_p50},
                               {"target_pooled_vs_floor_p50", target_pooled_vs_floor_p50},
                               {"pool_start_us", pool_start_us},
                               {"pool_workers", cfg.workers},
                               {"pool_workers_started", stats.started},
                               {"pool_workers_retired", stats.retired_max_calls}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("floor   p50 %8lld us  p99 %8lld us  (posix_spawn, no sandbox)\n",
                static_cast<long long>(floor_p50), static_cast<long long>(floor_p99));
    std::printf("cold    p50 %8lld us  p99 %8lld us  (new sandbox per call)\n",
                static_cast<long long>(cold_p50), static_cast<long long>(cold_p99));
    std::printf("pooled  p50 %8lld us  p99 %8lld us  (%zu workers; started in %lld us; "
                "%llu started, %llu retired after %u calls)\n",
                static_cast<long long>(pool_p50), static_cast<long long>(pool_p99),
                cfg.workers, static_cast<long long>(pool_start_us),
                static_cast<unsigned long long>(stats.started),
                static_cast<unsigned long long>(stats.retired_max_calls),
                cfg.max_calls_per_worker);
    std::printf("ratio cold / pooled: p50 %.1fx, p99 %.1fx (target >= 10x)\n", ratio_p50,
                ratio_p99);
    std::printf("over the floor: pooled p50 %.2fx (target <= %.1fx), p99 %.2fx; "
                "cold p50 %.2fx\n",
                pooled_vs_floor_p50, target_pooled_vs_floor_p50, pooled_vs_floor_p99,
                cold_vs_floor_p50);
  }
  return exit_ok;
}

} // namespace troupe::cli
