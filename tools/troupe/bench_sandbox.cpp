// `troupe bench sandbox`: the cold path (a new sandbox per call) against the
// pre-started pool, on the cheapest possible command, so the figures are the
// sandbox's own cost per call.

#include "schemas/json_text.hpp"
#include "tools/troupe/bench_sandbox.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>
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

  progress("1/2 cold: a new sandbox per call");
  auto cold = measure(opts.calls, [&] { return run_sandboxed(req); });

  progress("2/2 pooled: pre-started workers");
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
  std::error_code ec;
  fs::remove_all(workspace, ec);
  for (auto* p : {&cold, &pooled})
    if (!p->error.empty()) {
      std::cerr << "troupe: bench sandbox failed: " << p->error << "\n";
      return exit_failure;
    }
  auto cold_p50 = percentile(cold.latencies_us, 0.50);
  auto cold_p99 = percentile(cold.latencies_us, 0.99);
  auto pool_p50 = percentile(pooled.latencies_us, 0.50);
  auto pool_p99 = percentile(pooled.latencies_us, 0.99);
  double ratio_p50 = static_cast<double>(cold_p50)
                     / static_cast<double>(std::max<int64_t>(pool_p50, 1));
  double ratio_p99 = static_cast<double>(cold_p99)
                     / static_cast<double>(std::max<int64_t>(pool_p99, 1));
  if (opts.json) {
    nlohmann::ordered_json out{{"bench", "sandbox"},
                               {"calls", opts.calls},
                               {"command", "/bin/true"},
                               {"isolation", "namespaces"},
                               {"cold_p50_us", cold_p50},
                               {"cold_p99_us", cold_p99},
                               {"pooled_p50_us", pool_p50},
                               {"pooled_p99_us", pool_p99},
                               {"ratio_p50", ratio_p50},
                               {"ratio_p99", ratio_p99},
                               {"pool_start_us", pool_start_us},
                               {"pool_workers", cfg.workers},
                               {"pool_workers_started", stats.started},
                               {"pool_workers_retired", stats.retired_max_calls}};
    std::cout << to_json_text(out) << std::endl;
  } else {
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
  }
  return exit_ok;
}

} // namespace troupe::cli
