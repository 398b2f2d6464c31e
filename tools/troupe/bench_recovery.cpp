// `troupe bench recovery`: how fast a crashed process's runs come back, how
// fast replay folds a journal, and how a long run's journal grows.
//
//   1. A child process starts N runs and holds them in flight (each waits for
//      its model); the parent kills it with SIGKILL, then times
//      runtime::resume() until every run is rehydrated (has asked its model
//      again), and lets them finish.
//   2. Replay speed: replay_run over all events of those runs, events/s.
//   3. One 1,000-turn run whose conversation grows by ~330 bytes a turn:
//      journal bytes, and the time to replay it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "persistence/store.hpp"
#include "core/builtin_tools.hpp"
#include "core/replay.hpp"
#include "troupe/runtime.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Echo for `turns - 1` turns (with `text` as the assistant's message), then
// complete. With `hold`, every request blocks until release().
class recovery_provider final : public model_provider {
public:
  recovery_provider(uint32_t turns, std::string text, bool hold)
    : turns_(turns), text_(std::move(text)), held_(hold) {}

  model_response complete(const model_call& call) override {
    ++requests;
    {
      std::unique_lock<std::mutex> guard(mtx_);
      cv_.wait(guard, [&] { return !held_; });
    }
    model_response r;
    r.text = text_;
    r.tokens = {10, 10};
    if (call.request_index + 1 < turns_)
      r.tool_calls.push_back({"c" + std::to_string(call.request_index), "echo", "{}"});
    else
      r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"ok"})"});
    return r;
  }
  bool blocking() const override { return held_; }
  void release() {
    std::lock_guard<std::mutex> guard(mtx_);
    held_ = false;
    cv_.notify_all();
  }
  std::atomic<uint64_t> requests{0};

private:
  uint32_t turns_;
  std::string text_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool held_;
};

scenario recovery_scenario(uint32_t turns) {
  scenario sc;
  sc.source = "bench-recovery";
  sc.agent = "bench";
  sc.task = "echo, then complete";
  sc.limits.max_turns = turns + 2;
  sc.limits.max_tool_calls = turns + 2;
  sc.limits.max_tokens = 1ull << 40;
  sc.limits.deadline_ms = 24ull * 3600 * 1000;
  sc.workspace_root = std::filesystem::temp_directory_path() / "troupe-bench-recovery-work";
  sc.models["bench-model"] = {"bench-model", "bench"};
  sc.agents["bench"] = {"bench", "bench-model", "", {"echo", "complete"}};
  return sc;
}

// The child: N runs, each held at its first model request, then it waits to
// be killed. Returns only on error.
int hold_runs_in_flight(const std::string& db, uint64_t runs, int ready_fd) {
  runtime_options ro{db};
  ro.resume_on_first_start = false;
  auto rt = runtime::create(ro);
  if (!rt)
    return 1;
  auto provider = std::make_shared<recovery_provider>(2, "", true);
  if ((*rt)->register_provider("bench-model", provider))
    return 1;
  auto sc = recovery_scenario(2);
  // The held provider takes one request at a time; count the requests the
  // runs journaled instead.
  auto asked = std::make_shared<std::atomic<uint64_t>>(0);
  for (uint64_t i = 0; i < runs; ++i) {
    run_request req;
    req.on_event = [asked](const event& ev) {
      if (ev.kind() == event_kind::model_request)
        ++*asked;
    };
    if (!(*rt)->start(sc, std::move(req)))
      return 1;
  }
  while (asked->load() < runs)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Every run journaled run_start, turn_start and model_request; make sure
  // the last of them are committed before saying so.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  char ok = 'k';
  if (::write(ready_fd, &ok, 1) != 1)
    return 1;
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(60));
}

std::vector<std::vector<event>> all_runs(const std::string& db, uint64_t& events) {
  std::vector<std::vector<event>> out;
  auto st = persistence::store::open(db, persistence::open_mode::read_only);
  if (!st)
    return out;
  auto runs = st->list_runs();
  if (!runs)
    return out;
  for (auto& r : *runs) {
    auto loaded = st->load_run(r.run_id);
    if (!loaded) {
      troupe::ignore_error(loaded.error(), "a bench measures the runs it can read");
      continue;
    }
    auto evs = std::move(*loaded);
    events += evs.size();
    out.push_back(std::move(evs));
  }
  return out;
}

} // namespace

int bench_recovery(const bench_recovery_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-recovery-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  auto db = (dir / "crashed.db").string();
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };

  // 1. Crash a process holding N runs, then resume them.
  say("1/3 starting " + std::to_string(opts.runs) + " runs in a child process...");
  int fds[2];
  if (::pipe(fds) != 0)
    return exit_failure;
  std::fflush(nullptr);
  pid_t child = ::fork(); // before this process starts any thread
  if (child == 0) {
    ::close(fds[0]);
    ::_exit(hold_runs_in_flight(db, opts.runs, fds[1]));
  }
  ::close(fds[1]);
  char ready = 0;
  auto got = ::read(fds[0], &ready, 1);
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (got != 1) {
    std::cerr << "troupe: bench recovery: the child failed before holding its runs\n";
    return exit_failure;
  }
  say("   killed it (SIGKILL); resuming...");
  double resume_s = 0, finish_s = 0;
  uint64_t resumed = 0, completed = 0;
  {
    runtime_options ro{db};
    ro.resume_on_first_start = false;
    ro.resume_concurrency = opts.runs;
    auto rt = runtime::create(ro);
    if (!rt)
      return report(rt.error());
    // Answers at once; a run is rehydrated when it asked its model again.
    auto provider = std::make_shared<recovery_provider>(2, "", false);
    if (auto err = (*rt)->register_provider("bench-model", provider))
      return report(err);
    (*rt)->register_scenario(recovery_scenario(2));
    auto t0 = clock_type::now();
    auto handles = (*rt)->resume();
    uint64_t resumable = 0;
    for (auto& h : handles) {
      if (h)
        ++resumable;
      else
        std::cerr << "troupe: bench recovery: " << render(h.error()) << "\n";
    }
    while (provider->requests.load() < resumable)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    resume_s = seconds_since(t0);
    for (auto& h : handles)
      if (h) {
        ++resumed;
        completed += h->result().get().status == run_status::completed ? 1 : 0;
      }
    finish_s = seconds_since(t0);
  }

  // 2. Replay speed over everything journaled.
  say("2/3 replaying every run...");
  tool_registry registry;
  troupe::ignore_error(register_builtin_tools(registry), "built-ins always register");
  uint64_t events = 0;
  auto runs = all_runs(db, events);
  auto t1 = clock_type::now();
  uint64_t identical = 0;
  auto governance = default_policy();
  for (auto& evs : runs)
    identical += replay_run(evs, registry, governance).identical() ? 1 : 0;
  double replay_s = seconds_since(t1);

  // 3. A long run whose conversation grows every turn.
  say("3/3 one " + std::to_string(opts.long_turns) + "-turn run...");
  auto long_db = (dir / "long.db").string();
  uint64_t long_bytes = 0, long_events = 0;
  double long_replay_ms = 0;
  bool long_identical = false;
  {
    runtime_options ro{long_db};
    ro.resume_on_first_start = false;
    auto rt = runtime::create(ro);
    if (!rt)
      return report(rt.error());
    auto text = std::string(330, 'x');
    if (auto err = (*rt)->register_provider(
          "bench-model", std::make_shared<recovery_provider>(opts.long_turns, text, false)))
      return report(err);
    auto h = (*rt)->start(recovery_scenario(opts.long_turns), {});
    if (!h)
      return report(h.error());
    h->result().get();
  }
  {
    auto long_runs = all_runs(long_db, long_events);
    for (auto& evs : long_runs) {
      auto t2 = clock_type::now();
      long_identical = replay_run(evs, registry, governance).identical();
      long_replay_ms = seconds_since(t2) * 1000;
    }
    auto st = persistence::store::open(long_db, persistence::open_mode::read_only);
    if (st)
      troupe::ignore_error(
        st->for_each_event("", [&](const persistence::stored_event& row) {
          long_bytes += row.bytes.size();
          return caf::error{};
        }),
        "a bench reads what it can");
  }
  fs::remove_all(dir, ec);

  double events_per_s = replay_s > 0 ? static_cast<double>(events) / replay_s : 0;
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "recovery"},
      {"runs", opts.runs},
      {"resume_s", resume_s},
      {"resumed", resumed},
      {"completed_after_resume", completed},
      {"finish_s", finish_s},
      {"replay_events", events},
      {"replay_identical_runs", identical},
      {"replay_events_per_s", events_per_s},
      {"long_run_turns", opts.long_turns},
      {"long_run_events", long_events},
      {"long_run_journal_bytes", long_bytes},
      {"long_run_replay_ms", long_replay_ms},
      {"long_run_replay_identical", long_identical},
      {"baseline_langgraph_long_run_bytes", 626ull << 20},
      {"baseline_langgraph_history_load_s", 90}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("resume: %llu runs rehydrated in %.3f s (target: 10,000 in < 2 s); all "
                "finished in %.3f s, %llu completed\n",
                static_cast<unsigned long long>(resumed), resume_s, finish_s,
                static_cast<unsigned long long>(completed));
    std::printf("replay: %llu events in %.3f s = %.0f events/s (target >= 1,000,000); "
                "%llu of %zu runs identical\n",
                static_cast<unsigned long long>(events), replay_s, events_per_s,
                static_cast<unsigned long long>(identical), runs.size());
    std::printf("long run: %u turns, %llu events, %.1f KiB of journal (target <= 1 MiB; "
                "LangGraph.js: 626 MiB), replayed in %.1f ms (target < 50 ms)%s\n",
                opts.long_turns, static_cast<unsigned long long>(long_events),
                static_cast<double>(long_bytes) / 1024.0, long_replay_ms,
                long_identical ? "" : " NOT IDENTICAL");
  }
  return resumed == opts.runs && identical == runs.size() && long_identical ? exit_ok
                                                                            : exit_failure;
}

} // namespace troupe::cli
