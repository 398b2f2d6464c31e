// `troupe bench turns`: the turn loop end to end (run actors, model route,
// tool pool, durable journal) on the workload the issue fixes: each run has
// K turns, turns 1..K-1 call one tool (`note`, registered here with the
// effect class asked for: unsafe by default, so every turn waits for one
// durable intent) with {"i": n}, turn K calls `complete`. Measured at each
// concurrency asked for, beside the floors of the same machine in the same
// run: the disk's fsync rate (how many durable waits a second any journal on
// it can give), SQLite alone writing the rows the level wrote (the floor of
// the journal's single writer) and the CPU the process spent per turn.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include "troupe/runtime.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/bench_floor.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/proc_status.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// Answers by position: note until the last turn, then complete. With a gate
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
        {"c" + std::to_string(call.request_index + 1), "note",
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

// The tool every turn calls: it only hands its arguments back, so what the
// bench measures is troupe's cost per call, with the journal's durability
// for the effect class asked for.
tool_definition note_tool(tool_effect effect) {
  tool_definition def;
  def.name = "note";
  def.description = "Records a note (the bench's stand-in for a tool with an effect).";
  def.parameters = nlohmann::json{{"type", "object"}};
  def.effect = effect;
  def.handler = [](const nlohmann::json& args, const tool_context&) {
    return tool_outcome{true, args.dump(), false};
  };
  return def;
}

caf::expected<scenario> bench_scenario(const std::string& source, uint32_t turns) {
  scenario sc;
  sc.source = source;
  sc.agent = "bench";
  sc.task = "note, then complete";
  sc.limits.max_turns = turns + 2;
  sc.limits.max_tool_calls = turns + 2;
  sc.limits.max_tokens = 1u << 30;
  sc.limits.deadline_ms = 3600 * 1000;
  sc.workspace_root = std::filesystem::temp_directory_path() / "troupe-bench-work";
  sc.models["bench-model"] = {"bench-model", "bench"};
  sc.agents["bench"] = {"bench", "bench-model", "", {"note", "complete"}};
  auto rules = parse_policy(R"(
    version = 1
    [[rule]]
    id = "notes"
    tool = "note"
    decision = "allow"
    [[rule]]
    id = "finish"
    tool = "complete"
    decision = "allow"
  )", "bench-policy");
  if (!rules)
    return std::move(rules.error());
  sc.governance = std::move(*rules);
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

std::optional<tool_effect> effect_named(const std::string& name) {
  for (auto e : {tool_effect::pure, tool_effect::idempotent, tool_effect::unsafe})
    if (to_string(e) == name)
      return e;
  return std::nullopt;
}

struct level_figures {
  uint64_t concurrency = 0;
  uint64_t runs = 0;
  uint64_t turns = 0;
  double wall_s = 0;
  int64_t cpu_us = 0;
  journal_figures journal; ///< the writer's counters once every run ended
  uint64_t body_bytes = 0;
  std::string db;          ///< the journal the level wrote
  storage_floor storage;   ///< SQLite alone writing the same rows
};

// Phase 1, once per concurrency: `opts.runs` runs, `concurrency` alive at
// once, on a fresh journal in `dir`.
caf::expected<level_figures> measure_level(const std::filesystem::path& dir,
                                           const bench_turns_options& opts,
                                           uint64_t concurrency, tool_effect effect,
                                           std::atomic<uint64_t>& failed) {
  level_figures out;
  out.concurrency = concurrency;
  out.runs = opts.runs;
  out.turns = opts.runs * opts.turns;
  auto db = (dir / ("turns-c" + std::to_string(concurrency) + ".db")).string();
  {
    auto rt = runtime::create({db});
    if (!rt)
      return std::move(rt.error());
    if (auto err = (*rt)->register_tool(note_tool(effect)))
      return err;
    if (auto err = (*rt)->register_provider(
          "bench-model", std::make_shared<bench_provider>(opts.turns, false)))
      return err;
    auto sc = bench_scenario("bench-throughput", opts.turns);
    if (!sc)
      return std::move(sc.error());
    auto cpu0 = process_cpu_us();
    auto t0 = clock_type::now();
    run_all(**rt, *sc, opts.runs, concurrency, failed);
    out.wall_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    out.cpu_us = process_cpu_us() - cpu0;
    out.journal = (*rt)->stats().journal;
  }
  out.body_bytes = journal_body_bytes(db);
  out.db = db;
  return out;
}

struct idle_figures {
  uint64_t before_kib = 0;
  uint64_t after_kib = 0;
};

// Phase 2: memory of idle live runs, each waiting for its first reply.
caf::expected<idle_figures> measure_idle(const std::filesystem::path& dir, uint64_t idle_runs,
                                         std::atomic<uint64_t>& failed) {
  idle_figures out;
  auto rt = runtime::create({(dir / "idle.db").string()});
  if (!rt)
    return std::move(rt.error());
  auto provider = std::make_shared<bench_provider>(2, true);
  if (auto err = (*rt)->register_tool(note_tool(tool_effect::unsafe)))
    return err;
  if (auto err = (*rt)->register_provider("bench-model", provider))
    return err;
  auto sc = bench_scenario("bench-idle", 2);
  if (!sc)
    return std::move(sc.error());
  std::atomic<uint64_t> waiting{0};
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t done = 0;
  out.before_kib = proc_status_kib("VmRSS:");
  for (uint64_t i = 0; i < idle_runs; ++i) {
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
    if (!(*rt)->start(*sc, std::move(req)))
      ++failed;
  }
  while (waiting.load() < idle_runs)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  out.after_kib = proc_status_kib("VmRSS:");
  provider->open();
  std::unique_lock<std::mutex> guard(mtx);
  cv.wait(guard, [&] { return done == idle_runs; });
  return out;
}

// LangGraph.js 1.4 with its SQLite checkpointer on the same workload, on this
// class of machine (issue 15): a reference measured outside this run.
constexpr double langgraph_turns_per_s = 390;

// The issue's target at C = 1,000.
constexpr double target_turns_per_s = 50000;
constexpr uint64_t target_concurrency = 1000;

nlohmann::ordered_json level_json(const level_figures& l, const fsync_floor& disk,
                                  unsigned cores) {
  auto turns = static_cast<double>(l.turns);
  double turns_per_s = turns / l.wall_s;
  double waits_per_turn = static_cast<double>(l.journal.durable) / turns;
  double cpu_us_per_turn = static_cast<double>(l.cpu_us) / turns;
  // Each turn waits for `waits_per_turn` commits, and one commit can carry
  // the waits of every run alive: the disk allows at most this many turns.
  auto alive = static_cast<double>(std::min(l.concurrency, l.runs));
  nlohmann::ordered_json disk_floor = nullptr; // no waits: the disk bounds nothing
  double floor = static_cast<double>(cores) * 1e6 / cpu_us_per_turn;
  if (waits_per_turn > 0 && disk.per_s > 0) {
    double d = disk.per_s * alive / waits_per_turn;
    disk_floor = d;
    floor = std::min(floor, d);
  }
  nlohmann::ordered_json out{
    {"concurrency", l.concurrency},
    {"runs", l.runs},
    {"turns", l.turns},
    {"wall_s", l.wall_s},
    {"turns_per_s", turns_per_s},
    {"runs_per_s", static_cast<double>(l.runs) / l.wall_s},
    {"events_per_turn", static_cast<double>(l.journal.committed) / turns},
    {"durable_waits_per_turn", waits_per_turn},
    {"commits", l.journal.commits},
    {"commits_per_turn", static_cast<double>(l.journal.commits) / turns},
    {"events_per_commit", l.journal.commits == 0 ? 0.0
                                                 : static_cast<double>(l.journal.committed)
                                                     / static_cast<double>(l.journal.commits)},
    {"writer_busy_share", l.journal.commit_latency_s.sum / l.wall_s},
    {"cpu_us_per_turn", cpu_us_per_turn},
    {"cpu_floor_turns_per_s", static_cast<double>(cores) * 1e6 / cpu_us_per_turn},
    {"disk_floor_turns_per_s", disk_floor},
    {"ratio_vs_floor", turns_per_s / floor},
    {"storage_floor_turns_per_s", turns / l.storage.seconds},
    {"ratio_vs_storage_floor", turns_per_s * l.storage.seconds / turns},
    {"journal_bytes_per_turn", static_cast<double>(l.body_bytes) / turns}};
  if (l.concurrency == target_concurrency) {
    out["target_turns_per_s"] = target_turns_per_s;
    out["meets_target"] = turns_per_s >= target_turns_per_s;
  }
  return out;
}

} // namespace

int bench_turns(const bench_turns_options& opts) {
  namespace fs = std::filesystem;
  auto effect = effect_named(opts.tool_effect);
  if (!effect) {
    std::fprintf(stderr, "troupe: bench turns: --tool-effect must be pure, idempotent or "
                         "unsafe, not '%s'\n", opts.tool_effect.c_str());
    return exit_usage;
  }
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-turns-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  std::atomic<uint64_t> failed{0};
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());

  say("floor: fsync on " + dir.string() + " for 1 s...");
  auto disk = measure_fsync_floor(dir.string(), 1.0);
  if (!disk.error.empty()) {
    std::fprintf(stderr, "troupe: bench turns: %s\n", disk.error.c_str());
    return exit_failure;
  }
  std::vector<level_figures> levels;
  for (auto c : opts.concurrency) {
    say(std::to_string(opts.runs) + " runs x " + std::to_string(opts.turns) + " turns, "
        + std::to_string(c) + " at once...");
    auto l = measure_level(dir, opts, c, *effect, failed);
    if (!l)
      return report(l.error());
    levels.push_back(*l);
  }
  auto peak_kib = proc_status_kib("VmHWM:");
  say(std::to_string(opts.idle_runs) + " idle runs alive at once...");
  auto idle = measure_idle(dir, opts.idle_runs, failed);
  if (!idle)
    return report(idle.error());
  // Last: the floor holds a level's rows in memory, which would hide in the
  // peak and in the idle runs' share.
  for (auto& l : levels) {
    say("floor: SQLite alone writing the rows of C=" + std::to_string(l.concurrency) + "...");
    auto batch = l.journal.commits == 0 ? 1 : l.journal.committed / l.journal.commits;
    l.storage = measure_storage_floor(l.db, l.db + ".floor", batch);
    if (!l.storage.error.empty()) {
      std::fprintf(stderr, "troupe: bench turns: storage floor: %s\n", l.storage.error.c_str());
      fs::remove_all(dir, ec);
      return exit_failure;
    }
  }
  fs::remove_all(dir, ec);

  double kib_per_idle = opts.idle_runs == 0
                          ? 0.0
                          : static_cast<double>(idle->after_kib - idle->before_kib)
                              / static_cast<double>(opts.idle_runs);
  double best = 0;
  auto level_list = nlohmann::ordered_json::array();
  for (auto& l : levels) {
    level_list.push_back(level_json(l, disk, cores));
    best = std::max(best, static_cast<double>(l.turns) / l.wall_s);
  }
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "turns"},
      {"turns_per_run", opts.turns},
      {"tool_effect", opts.tool_effect},
      {"cores", cores},
      {"fsync_per_s", disk.per_s},
      {"fsync_p50_us", disk.p50_us},
      {"fsync_p99_us", disk.p99_us},
      {"levels", level_list},
      {"turns_per_s", best},
      {"peak_rss_kib", peak_kib},
      {"idle_runs", opts.idle_runs},
      {"rss_kib_per_idle_run", kib_per_idle},
      {"reference_langgraph_turns_per_s", langgraph_turns_per_s},
      {"ratio_vs_langgraph", best / langgraph_turns_per_s},
      {"failed_runs", failed.load()}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("floor: fsync %.0f/s (p50 %.0f us, p99 %.0f us), %u cores; tool effect %s\n",
                disk.per_s, disk.p50_us, disk.p99_us, cores, opts.tool_effect.c_str());
    for (auto& j : level_list) {
      std::printf("C=%llu: %.0f turns/s; %.2f events, %.3f commits, %.2f durable waits per "
                  "turn; %.1f CPU us per turn (CPU floor %.0f turns/s",
                  static_cast<unsigned long long>(j["concurrency"].get<uint64_t>()),
                  j["turns_per_s"].get<double>(), j["events_per_turn"].get<double>(),
                  j["commits_per_turn"].get<double>(),
                  j["durable_waits_per_turn"].get<double>(), j["cpu_us_per_turn"].get<double>(),
                  j["cpu_floor_turns_per_s"].get<double>());
      if (j["disk_floor_turns_per_s"].is_null())
        std::printf(", no disk floor: no turn waits for a commit");
      else
        std::printf(", disk floor %.0f turns/s", j["disk_floor_turns_per_s"].get<double>());
      std::printf("); writer busy %.0f%%\n", 100 * j["writer_busy_share"].get<double>());
      std::printf("  storage floor (SQLite alone writing the same rows in the same batches) "
                  "%.0f turns/s: %.2fx of it\n",
                  j["storage_floor_turns_per_s"].get<double>(),
                  j["ratio_vs_storage_floor"].get<double>());
      if (j.contains("target_turns_per_s"))
        std::printf("  target %.0f turns/s: %s\n", target_turns_per_s,
                    j["meets_target"].get<bool>() ? "met" : "not met");
    }
    std::printf("%.1fx the %.0f turns/s LangGraph.js reference; peak RSS %llu KiB; %.1f KiB "
                "RSS per idle run (%llu alive)\n",
                best / langgraph_turns_per_s, langgraph_turns_per_s,
                static_cast<unsigned long long>(peak_kib), kib_per_idle,
                static_cast<unsigned long long>(opts.idle_runs));
    if (failed.load() != 0)
      std::printf("WARNING: %llu runs did not complete\n",
                  static_cast<unsigned long long>(failed.load()));
  }
  return failed.load() == 0 ? exit_ok : exit_failure;
}

} // namespace troupe::cli
