// `troupe bench fanout`: one parent delegating to N children in one reply,
// each child a few turns (echo, then complete), durable journal, through the
// whole runtime (supervisor, run actors, model route, tool pool). The
// baseline, measured in the same process right after: the same N children's
// work as N independent top-level runs started at once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/proc_status.hpp"
#include "troupe/runtime.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// The lead asks for `children` delegations at once, then completes; a worker
// echoes until its last turn, then completes.
class fanout_provider final : public model_provider {
public:
  fanout_provider(uint64_t children, uint32_t worker_turns)
    : children_(children), worker_turns_(worker_turns) {}

  model_response complete(const model_call& call) override {
    model_response r;
    r.tokens = {100, 20};
    if (call.agent == "lead" && call.request_index == 0) {
      for (uint64_t i = 0; i < children_; ++i)
        r.tool_calls.push_back({"d" + std::to_string(i), "delegate",
                                R"({"agent":"worker","task":"item )" + std::to_string(i)
                                  + "\"}"});
    } else if (call.agent == "worker" && call.request_index + 1 < worker_turns_) {
      r.tool_calls.push_back({"e" + std::to_string(call.request_index), "echo",
                              R"({"i":)" + std::to_string(call.request_index) + "}"});
    } else {
      r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"done"})"});
    }
    return r;
  }

private:
  uint64_t children_;
  uint32_t worker_turns_;
};

scenario fanout_scenario(const std::filesystem::path& dir, uint64_t children,
                         uint32_t worker_turns) {
  scenario sc;
  sc.source = "bench-fanout";
  sc.agent = "lead";
  sc.task = "fan out";
  // The lead's budget covers every child's (each also charged its recovery
  // turn and its `complete`) plus its own two turns.
  auto per_child = uint64_t{worker_turns} + 2;
  sc.limits.max_turns = static_cast<uint32_t>(children * per_child + 4);
  sc.limits.max_tool_calls = static_cast<uint32_t>(children * per_child + 4);
  sc.limits.max_tokens = uint64_t{1} << 40;
  sc.limits.deadline_ms = 3600 * 1000;
  sc.limits.max_depth = 1;
  sc.limits.max_children = static_cast<uint32_t>(children);
  sc.limits.max_descendants = static_cast<uint32_t>(children);
  sc.workspace_root = dir / "work";
  sc.models["fan-model"] = {"fan-model", "fanout"};
  sc.agents["lead"] = {"lead", "fan-model", "", {"delegate", "complete"}, {"worker"}};
  sc.agents["worker"] = {"worker", "fan-model", "", {"echo", "complete"}, {}};
  return sc;
}

// Runs `start` runs of `sc` (agent `agent`) at once; returns the wall time
// until all ended, counting those that did not complete in `failed`.
double run_at_once(runtime& rt, const scenario& sc, const std::string& agent, uint64_t runs,
                   std::atomic<uint64_t>& failed) {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t done = 0;
  auto t0 = clock_type::now();
  for (uint64_t i = 0; i < runs; ++i) {
    run_request req;
    req.agent = agent;
    req.task = "item " + std::to_string(i);
    req.on_done = [&](const run_result& r) {
      if (r.status != run_status::completed)
        ++failed;
      std::lock_guard<std::mutex> guard(mtx);
      ++done;
      cv.notify_all();
    };
    if (!rt.start(sc, std::move(req))) {
      ++failed;
      std::lock_guard<std::mutex> guard(mtx);
      ++done;
    }
  }
  std::unique_lock<std::mutex> guard(mtx);
  cv.wait(guard, [&] { return done == runs; });
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

} // namespace

int bench_fanout(const bench_fanout_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-fanout-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  std::atomic<uint64_t> failed{0};
  auto sc = fanout_scenario(dir, opts.children, opts.worker_turns);
  auto rss_before_kib = proc_status_kib("VmRSS:");

  double fanout_s = 0;
  {
    auto rt = runtime::create({(dir / "fanout.db").string()});
    if (!rt)
      return report(rt.error());
    if (auto err = (*rt)->register_provider(
          "fan-model", std::make_shared<fanout_provider>(opts.children, opts.worker_turns)))
      return report(err);
    say("1/2 one lead delegating to " + std::to_string(opts.children) + " children of "
        + std::to_string(opts.worker_turns) + " turns...");
    fanout_s = run_at_once(**rt, sc, "lead", 1, failed);
  }
  auto peak_kib = proc_status_kib("VmHWM:");

  double baseline_s = 0;
  {
    auto rt = runtime::create({(dir / "baseline.db").string()});
    if (!rt)
      return report(rt.error());
    if (auto err = (*rt)->register_provider(
          "fan-model", std::make_shared<fanout_provider>(opts.children, opts.worker_turns)))
      return report(err);
    say("2/2 baseline: the same " + std::to_string(opts.children)
        + " workers as top-level runs started at once...");
    baseline_s = run_at_once(**rt, sc, "worker", opts.children, failed);
  }
  fs::remove_all(dir, ec);

  auto n = static_cast<double>(opts.children);
  double children_per_s = n / fanout_s;
  double baseline_runs_per_s = n / baseline_s;
  if (opts.json) {
    nlohmann::ordered_json out{{"bench", "fanout"},
                               {"children", opts.children},
                               {"worker_turns", opts.worker_turns},
                               {"wall_s", fanout_s},
                               {"children_per_s", children_per_s},
                               {"peak_rss_kib", peak_kib},
                               {"rss_before_kib", rss_before_kib},
                               {"baseline_wall_s", baseline_s},
                               {"baseline_runs_per_s", baseline_runs_per_s},
                               {"ratio_vs_independent_runs", children_per_s / baseline_runs_per_s},
                               {"failed_runs", failed.load()}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("1 lead -> %llu children x %u turns: %.3f s, %.0f children/s; peak RSS %llu KiB\n",
                static_cast<unsigned long long>(opts.children), opts.worker_turns, fanout_s,
                children_per_s, static_cast<unsigned long long>(peak_kib));
    std::printf("baseline: %llu independent runs at once: %.3f s, %.0f runs/s (ratio %.2f)\n",
                static_cast<unsigned long long>(opts.children), baseline_s,
                baseline_runs_per_s, children_per_s / baseline_runs_per_s);
    if (failed.load() != 0)
      std::printf("WARNING: %llu runs did not complete\n",
                  static_cast<unsigned long long>(failed.load()));
  }
  return failed.load() == 0 ? exit_ok : exit_failure;
}

} // namespace troupe::cli
