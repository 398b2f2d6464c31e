// `troupe bench turns`: the turn loop end to end (run actors, model route,
// tool pool, durable journal) on the workload the issue fixes: each run has
// K turns, turns 1..K-1 call `echo` with {"i": n}, turn K calls `complete`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include "troupe/runtime.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/proc_status.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// Answers by position: echo until the last turn, then complete. With a gate
// it blocks before answering until `open()`, which keeps runs idle while the
// memory of many live runs is measured.
class bench_provider final : public model_provider {
public:
  bench_provider(uint32_t turns, bool gated) : turns_(turns), closed_(gated) {}

  model_response complete(const model_call& call) override {
    {
      std::unique_lock<std::mutex> guard(mtx_);
      cv_.wait(guard, [&] { return !closed_; });
    }
    model_response r;
    r.tokens = {100, 20};
    if (call.request_index + 1 < turns_)
      r.tool_calls.push_back(
        {"c" + std::to_string(call.request_index + 1), "echo",
         "{\"i\":" + std::to_string(call.request_index + 1) + "}"});
    else
      r.tool_calls.push_back(
        {"done", "complete", R"({"status":"success","answer":"done"})"});
    return r;
  }

  bool blocking() const override { return closed_; }

  void open() {
    std::lock_guard<std::mutex> guard(mtx_);
    closed_ = false;
    cv_.notify_all();
  }

private:
  uint32_t turns_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool closed_;
};

scenario bench_scenario(const std::string& source, uint32_t turns) {
  scenario sc;
  sc.source = source;
  sc.agent = "bench";
  sc.task = "echo, then complete";
  sc.limits.max_turns = turns + 2;
  sc.limits.max_tool_calls = turns + 2;
  sc.limits.max_tokens = 1u << 30;
  sc.limits.deadline_ms = 3600 * 1000;
  sc.workspace_root = std::filesystem::temp_directory_path() / "troupe-bench-work";
  sc.models["bench-model"] = {"bench-model", "bench"};
  sc.agents["bench"] = {"bench", "bench-model", "", {"echo", "complete"}};
  return sc;
}

// Starts `total` runs keeping at most `concurrency` alive; returns when all
// ended. `failed` counts runs that did not complete.
void run_all(runtime& rt, const scenario& sc, uint64_t total,
             uint64_t concurrency, std::atomic<uint64_t>& failed) {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t alive = 0, done = 0;
  for (uint64_t started = 0; started < total; ++started) {
    {
      std::unique_lock<std::mutex> guard(mtx);
      cv.wait(guard, [&] { return alive < concurrency; });
      ++alive;
    }
    run_request req;
    req.on_done = [&](const run_result& r) {
      if (r.status != run_status::completed)
        ++failed;
      std::lock_guard<std::mutex> guard(mtx);
      --alive;
      ++done;
      cv.notify_all();
    };
    if (!rt.start(sc, std::move(req))) {
      ++failed;
      std::lock_guard<std::mutex> guard(mtx);
      --alive;
      ++done;
    }
  }
  std::unique_lock<std::mutex> guard(mtx);
  cv.wait(guard, [&] { return done == total; });
}

uint64_t journal_body_bytes(const std::string& db) {
  sqlite3* h = nullptr;
  uint64_t n = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT ifnull(sum(length(body)), 0) FROM events",
                           -1, &st, nullptr) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
      n = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return n;
}

} // namespace

int bench_turns(const bench_turns_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-turns-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  std::atomic<uint64_t> failed{0};

  // Phase 1: throughput at the given concurrency.
  auto db = (dir / "turns.db").string();
  double elapsed_s = 0;
  {
    auto rt = runtime::create({db});
    if (!rt)
      return report(rt.error());
    if (auto err = (*rt)->register_provider(
          "bench-model", std::make_shared<bench_provider>(opts.turns, false)))
      return report(err);
    auto sc = bench_scenario("bench-throughput", opts.turns);
    say("1/2 " + std::to_string(opts.runs) + " runs x " + std::to_string(opts.turns)
        + " turns, " + std::to_string(opts.concurrency) + " at once...");
    auto t0 = clock_type::now();
    run_all(**rt, sc, opts.runs, opts.concurrency, failed);
    elapsed_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  auto peak_kib = proc_status_kib("VmHWM:");
  auto body_bytes = journal_body_bytes(db);
  auto total_turns = opts.runs * opts.turns;

  // Phase 2: memory of idle live runs, each waiting for its first reply.
  uint64_t idle_before_kib = 0, idle_after_kib = 0;
  {
    auto idle_db = (dir / "idle.db").string();
    auto rt = runtime::create({idle_db});
    if (!rt)
      return report(rt.error());
    auto provider = std::make_shared<bench_provider>(2, true);
    if (auto err = (*rt)->register_provider("bench-model", provider))
      return report(err);
    auto sc = bench_scenario("bench-idle", 2);
    say("2/2 " + std::to_string(opts.idle_runs) + " idle runs alive at once...");
    std::atomic<uint64_t> waiting{0};
    std::mutex mtx;
    std::condition_variable cv;
    uint64_t done = 0;
    idle_before_kib = proc_status_kib("VmRSS:");
    for (uint64_t i = 0; i < opts.idle_runs; ++i) {
      run_request req;
      req.on_event = [&](const event& ev) {
        if (ev.kind() == event_kind::model_request)
          ++waiting;
      };
      req.on_done = [&](const run_result& r) {
        if (r.status != run_status::completed)
          ++failed;
        std::lock_guard<std::mutex> guard(mtx);
        ++done;
        cv.notify_all();
      };
      if (!(*rt)->start(sc, std::move(req)))
        ++failed;
    }
    while (waiting.load() < opts.idle_runs)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    idle_after_kib = proc_status_kib("VmRSS:");
    provider->open();
    std::unique_lock<std::mutex> guard(mtx);
    cv.wait(guard, [&] { return done == opts.idle_runs; });
  }
  fs::remove_all(dir, ec);

  double turns_per_s = static_cast<double>(total_turns) / elapsed_s;
  double runs_per_s = static_cast<double>(opts.runs) / elapsed_s;
  double kib_per_idle = opts.idle_runs == 0
                          ? 0.0
                          : static_cast<double>(idle_after_kib - idle_before_kib)
                              / static_cast<double>(opts.idle_runs);
  double bytes_per_turn = static_cast<double>(body_bytes)
                          / static_cast<double>(total_turns);
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "turns"},
      {"runs", opts.runs},
      {"turns_per_run", opts.turns},
      {"concurrency", opts.concurrency},
      {"runs_per_s", runs_per_s},
      {"turns_per_s", turns_per_s},
      {"peak_rss_kib", peak_kib},
      {"idle_runs", opts.idle_runs},
      {"rss_kib_per_idle_run", kib_per_idle},
      {"journal_bytes_per_turn", bytes_per_turn},
      {"baseline_langgraph_turns_per_s", 500},
      {"ratio_vs_langgraph", turns_per_s / 500.0},
      {"failed_runs", failed.load()}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("%llu runs x %u turns at concurrency %llu: %.0f runs/s, %.0f turns/s "
                "(%.1fx the 500 turns/s LangGraph.js reference)\n",
                static_cast<unsigned long long>(opts.runs), opts.turns,
                static_cast<unsigned long long>(opts.concurrency), runs_per_s,
                turns_per_s, turns_per_s / 500.0);
    std::printf("peak RSS %llu KiB; %.1f KiB RSS per idle run (%llu alive)\n",
                static_cast<unsigned long long>(peak_kib), kib_per_idle,
                static_cast<unsigned long long>(opts.idle_runs));
    std::printf("journal: %.0f bytes of events per turn\n", bytes_per_turn);
    if (failed.load() != 0)
      std::printf("WARNING: %llu runs did not complete\n",
                  static_cast<unsigned long long>(failed.load()));
  }
  return failed.load() == 0 ? exit_ok : exit_failure;
}

} // namespace troupe::cli
