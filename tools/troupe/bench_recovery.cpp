// `troupe bench recovery`: how fast a crashed process's runs come back, how
// fast replay folds a journal, and how a long run's journal grows and comes
// back.
//
//   1. A child process starts N runs and holds them in flight (each waits for
//      its model); the parent kills it with SIGKILL, then times
//      runtime::resume() until every run is rehydrated (has asked its model
//      again), and lets them finish.
//   2. Replay speed: replay_run over all events of those runs, events/s.
//   3. One 1,000-turn run whose conversation grows by ~330 bytes a turn, run
//      by another child that is killed while the last turn waits for its
//      model. Reading it back from its latest checkpoint (what resume does)
//      is timed against the baseline measured in the same run: loading
//      every event and folding them all (what resume did before snapshots
//      were read). Then runtime::resume() of it, and after it finished: its
//      journal bytes, a full replay (every decision and snapshot) and a
//      replay from its latest checkpoint.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "persistence/store.hpp"
#include "core/builtin_tools.hpp"
#include "core/replay.hpp"
#include "actors/run_reader.hpp"
#include "core/run_rebuild.hpp"
#include "core/run_snapshot.hpp"
#include "core/runtime_errc.hpp"
#include "troupe/runtime.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

constexpr uint64_t never = ~uint64_t{0};

// Echo for `turns - 1` turns (with `text` as the assistant's message), then
// complete. Requests from index `hold_from` on block until release().
class recovery_provider final : public model_provider {
public:
  recovery_provider(uint32_t turns, std::string text, uint64_t hold_from = never)
    : turns_(turns), text_(std::move(text)), hold_from_(hold_from), held_(hold_from != never) {}

  model_response complete(const model_call& call) override {
    ++requests;
    if (call.request_index >= hold_from_) {
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
  bool blocking() const override { return hold_from_ != never; }
  void release() {
    std::lock_guard<std::mutex> guard(mtx_);
    held_ = false;
    cv_.notify_all();
  }
  std::atomic<uint64_t> requests{0};

private:
  uint32_t turns_;
  std::string text_;
  uint64_t hold_from_;
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

// The first child: N runs, each held at its first model request, then it
// waits to be killed. Returns only on error.
int hold_runs_in_flight(const std::string& db, uint64_t runs, int ready_fd) {
  runtime_options ro{db};
  ro.resume_on_first_start = false;
  auto rt = runtime::create(ro);
  if (!rt)
    return 1;
  auto provider = std::make_shared<recovery_provider>(2, "", 0);
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

// The assistant's message of every turn of the long run.
std::string long_run_text() {
  return std::string(330, 'x');
}

// The second child: one long run, held while its last turn waits for the
// model, then it waits to be killed. Returns only on error.
int hold_long_run(const std::string& db, uint32_t turns, int ready_fd) {
  runtime_options ro{db};
  ro.resume_on_first_start = false;
  auto rt = runtime::create(ro);
  if (!rt)
    return 1;
  auto provider = std::make_shared<recovery_provider>(turns, long_run_text(), turns - 1);
  if ((*rt)->register_provider("bench-model", provider))
    return 1;
  if (!(*rt)->start(recovery_scenario(turns), {}))
    return 1;
  while (provider->requests.load() < turns)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // its commits land
  char ok = 'k';
  if (::write(ready_fd, &ok, 1) != 1)
    return 1;
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(60));
}

// Forks a child running `body(ready_fd)`, waits until it says it is ready and
// kills it with SIGKILL. Call it before this process starts any thread.
// False when the child failed before it was ready.
template <class Body>
bool kill_when_ready(Body body) {
  int fds[2];
  if (::pipe(fds) != 0)
    return false;
  std::fflush(nullptr);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    ::_exit(body(fds[1]));
  }
  ::close(fds[1]);
  char ready = 0;
  auto got = ::read(fds[0], &ready, 1);
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  return got == 1;
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

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0 : xs[xs.size() / 2];
}

struct long_run_figures {
  std::string run_id;
  uint64_t events = 0;
  uint64_t bytes = 0;       ///< stored bodies (schema 8: packed, no envelope)
  uint64_t event_bytes = 0; ///< the same events whole, as `encode` lays them out
  uint64_t file_bytes = 0;  ///< page_count x page_size: the file after a checkpoint
  uint64_t free_bytes = 0;  ///< of which on the freelist
  struct kind_bytes {
    uint64_t events = 0, bytes = 0, event_bytes = 0;
  };
  std::map<std::string, kind_bytes> by_kind; ///< what dominates the bodies
  std::map<std::string, uint64_t> file_by_table; ///< and the file (dbstat)
  uint64_t links = 0; ///< rows carrying a hash chain link: one per commit batch
  double load_full_fold_ms = 0;       ///< the baseline: load every event, fold all
  double load_from_checkpoint_ms = 0; ///< the latest checkpoint and the tail
  uint32_t resumed_from_seq = 0;
  uint64_t tail_events = 0;
  double resume_ms = 0; ///< runtime::resume() until the run asked its model again
  bool completed = false;
  double replay_ms = 0; ///< replay_run of the loaded events (every snapshot checked)
  bool replay_identical = false;
  uint64_t snapshots_checked = 0;
  double replay_full_with_load_ms = 0;
  double replay_from_checkpoint_ms = 0; ///< read from the checkpoint, replay the tail
  bool replay_from_checkpoint_identical = false;
};

// The state of the killed run, both ways, nine times each; the medians.
caf::error time_reading(const std::string& db, long_run_figures& f) {
  auto st = persistence::store::open(db, persistence::open_mode::read_only);
  if (!st)
    return std::move(st.error());
  auto runs = st->list_runs();
  if (!runs)
    return std::move(runs.error());
  if (runs->empty())
    return caf::make_error(runtime_errc::invalid_arguments, db + ": the long run is missing");
  f.run_id = runs->front().run_id;
  std::vector<double> full, from_checkpoint;
  for (int i = 0; i < 9; ++i) {
    auto t0 = clock_type::now();
    auto all = st->load_run(f.run_id);
    if (!all)
      return std::move(all.error());
    run_state folded;
    for (auto& ev : *all)
      apply(folded, ev);
    full.push_back(seconds_since(t0) * 1000);
    auto t1 = clock_type::now();
    auto rebuilt = read_run(*st, f.run_id);
    if (!rebuilt)
      return std::move(rebuilt.error());
    f.resumed_from_seq = rebuilt->from_seq();
    f.tail_events = rebuilt->tail.size();
    auto restored = fold_tail(std::move(*rebuilt));
    from_checkpoint.push_back(seconds_since(t1) * 1000);
    if (auto diff = state_difference(restored, folded); !diff.empty())
      return caf::make_error(runtime_errc::bad_snapshot,
                             "the long run read from its checkpoint differs from its fold: "
                               + diff);
  }
  f.load_full_fold_ms = median(full);
  f.load_from_checkpoint_ms = median(from_checkpoint);
  return caf::none;
}

// Resumes the killed long run and lets it finish.
caf::error time_resume(const std::string& db, uint32_t turns, long_run_figures& f) {
  runtime_options ro{db};
  ro.resume_on_first_start = false;
  auto rt = runtime::create(ro);
  if (!rt)
    return std::move(rt.error());
  auto provider = std::make_shared<recovery_provider>(turns, long_run_text());
  TROUPE_TRY((*rt)->register_provider("bench-model", provider));
  (*rt)->register_scenario(recovery_scenario(turns));
  auto t0 = clock_type::now();
  auto handles = (*rt)->resume();
  if (handles.size() != 1 || !handles.front())
    return handles.empty() ? caf::make_error(runtime_errc::invalid_arguments,
                                             "the long run was not resumed")
                           : handles.front().error();
  while (provider->requests.load() < 1)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  f.resume_ms = seconds_since(t0) * 1000;
  f.completed = handles.front()->result().get().status == run_status::completed;
  return caf::none;
}

// The file's logical size (what a checkpoint leaves on disk) and its free
// pages, read through a connection of its own: the store does not say.
caf::error measure_file(const std::string& db, long_run_figures& f) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return caf::make_error(runtime_errc::invalid_arguments, db + ": cannot open to measure");
  }
  auto pragma = [&](const char* sql) -> uint64_t {
    sqlite3_stmt* st = nullptr;
    uint64_t x = 0;
    if (sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      x = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return x;
  };
  auto page = pragma("PRAGMA page_size");
  f.file_bytes = pragma("PRAGMA page_count") * page;
  f.free_bytes = pragma("PRAGMA freelist_count") * page;
  f.links = pragma("SELECT count(*) FROM events WHERE length(hash) > 0");
  // dbstat is compiled into Debian's SQLite; without it the map stays empty.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name", -1, &st,
                         nullptr) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW)
      f.file_by_table[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
        static_cast<uint64_t>(sqlite3_column_int64(st, 1));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return caf::none;
}

// The finished long run: its bytes, a full replay, and one from its latest
// checkpoint.
caf::error time_replays(const std::string& db, const tool_registry& registry,
                        long_run_figures& f) {
  auto st = persistence::store::open(db, persistence::open_mode::read_only);
  if (!st)
    return std::move(st.error());
  TROUPE_TRY(st->for_each_event(f.run_id, [&](const persistence::stored_event& row) {
    f.bytes += row.body.size();
    f.event_bytes += row.bytes.size();
    ++f.events;
    auto& k = f.by_kind[row.kind];
    ++k.events;
    k.bytes += row.body.size();
    k.event_bytes += row.bytes.size();
    return caf::error{};
  }));
  TROUPE_TRY(measure_file(db, f));
  auto governance = default_policy();
  auto t0 = clock_type::now();
  auto all = st->load_run(f.run_id);
  if (!all)
    return std::move(all.error());
  auto t1 = clock_type::now();
  auto full = replay_run(*all, registry, governance);
  f.replay_ms = seconds_since(t1) * 1000;
  f.replay_full_with_load_ms = seconds_since(t0) * 1000;
  f.replay_identical = full.identical();
  f.snapshots_checked = full.snapshots;
  auto t2 = clock_type::now();
  auto rebuilt = read_run(*st, f.run_id);
  if (!rebuilt)
    return std::move(rebuilt.error());
  f.replay_from_checkpoint_identical =
    replay_from_checkpoint(*rebuilt, registry, governance).identical();
  f.replay_from_checkpoint_ms = seconds_since(t2) * 1000;
  return caf::none;
}

// The issue's target for the long run's journal, and growing linearly.
constexpr uint64_t long_run_bytes_target = 1024 * 1024;

nlohmann::ordered_json long_run_json(const long_run_figures& f, uint32_t turns) {
  auto kinds = nlohmann::ordered_json::object();
  for (auto& [kind, k] : f.by_kind)
    kinds[kind] = {{"events", k.events}, {"stored_bytes", k.bytes},
                   {"event_bytes", k.event_bytes},
                   {"stored_bytes_per_event", k.events ? double(k.bytes) / k.events : 0.0},
                   {"event_bytes_per_event", k.events ? double(k.event_bytes) / k.events : 0.0}};
  return nlohmann::ordered_json{
    {"long_run_turns", turns},
    {"long_run_events", f.events},
    {"long_run_journal_bytes", f.bytes},
    {"long_run_bytes_per_turn", static_cast<double>(f.bytes) / turns},
    {"long_run_journal_bytes_target", long_run_bytes_target},
    {"long_run_journal_bytes_target_met", f.bytes <= long_run_bytes_target},
    {"long_run_event_bytes_unpacked", f.event_bytes},
    {"long_run_file_bytes", f.file_bytes},
    {"long_run_file_free_bytes", f.free_bytes},
    {"long_run_bytes_by_kind", kinds},
    {"long_run_file_bytes_by_table", f.file_by_table},
    {"long_run_hash_links", f.links},
    {"long_run_resumed_from_seq", f.resumed_from_seq},
    {"long_run_tail_events", f.tail_events},
    {"long_run_load_from_checkpoint_ms", f.load_from_checkpoint_ms},
    {"baseline_long_run_load_full_fold_ms", f.load_full_fold_ms},
    {"ratio_load_from_checkpoint_vs_full_fold",
     f.load_full_fold_ms > 0 ? f.load_from_checkpoint_ms / f.load_full_fold_ms : 0},
    {"long_run_resume_ms", f.resume_ms},
    {"long_run_completed_after_resume", f.completed},
    {"long_run_replay_ms", f.replay_ms},
    {"long_run_replay_identical", f.replay_identical},
    {"long_run_snapshots_checked", f.snapshots_checked},
    {"long_run_replay_with_load_ms", f.replay_full_with_load_ms},
    {"long_run_replay_from_checkpoint_ms", f.replay_from_checkpoint_ms},
    {"long_run_replay_from_checkpoint_identical", f.replay_from_checkpoint_identical}};
}

void print_long_run(const long_run_figures& f, uint32_t turns) {
  std::printf("long run: %u turns, %llu events, %.1f KiB of journal (%.0f bytes/turn; "
              "target <= 1 MiB: %s; LangGraph.js: 626 MiB)\n",
              turns, static_cast<unsigned long long>(f.events),
              static_cast<double>(f.bytes) / 1024.0, static_cast<double>(f.bytes) / turns,
              f.bytes <= long_run_bytes_target ? "met" : "NOT MET");
  std::printf("  stored bodies %.1f KiB (the events whole: %.1f KiB); the file %.1f KiB "
              "(%.1f KiB free)\n",
              f.bytes / 1024.0, f.event_bytes / 1024.0, f.file_bytes / 1024.0,
              f.free_bytes / 1024.0);
  std::printf("  %llu hash chain links (one per commit batch); file pages by table:",
              static_cast<unsigned long long>(f.links));
  for (auto& [name, bytes] : f.file_by_table)
    if (bytes > 4096)
      std::printf(" %s %.0f KiB", name.c_str(), bytes / 1024.0);
  std::printf("\n");
  for (auto& [kind, k] : f.by_kind)
    std::printf("    %-18s %6llu events %9.1f KiB stored (%5.0f B each; %5.0f B whole)\n",
                kind.c_str(), static_cast<unsigned long long>(k.events), k.bytes / 1024.0,
                k.events ? double(k.bytes) / k.events : 0.0,
                k.events ? double(k.event_bytes) / k.events : 0.0);
  std::printf("  read back after the kill: %.1f ms from the checkpoint at seq %u + %llu "
              "events, %.1f ms loading and folding every event (ratio %.2f)\n",
              f.load_from_checkpoint_ms, f.resumed_from_seq,
              static_cast<unsigned long long>(f.tail_events), f.load_full_fold_ms,
              f.load_full_fold_ms > 0 ? f.load_from_checkpoint_ms / f.load_full_fold_ms : 0);
  std::printf("  resumed in %.1f ms%s; replayed in %.1f ms (target < 50 ms, %llu snapshots "
              "checked)%s, %.1f ms with loading, %.1f ms from its latest checkpoint%s\n",
              f.resume_ms, f.completed ? "" : " NOT COMPLETED", f.replay_ms,
              static_cast<unsigned long long>(f.snapshots_checked),
              f.replay_identical ? "" : " NOT IDENTICAL", f.replay_full_with_load_ms,
              f.replay_from_checkpoint_ms,
              f.replay_from_checkpoint_identical ? "" : " NOT IDENTICAL");
}

} // namespace

int bench_recovery(const bench_recovery_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-recovery-" + std::to_string(::getpid()));
  fs::create_directories(dir, ec);
  auto db = (dir / "crashed.db").string();
  auto long_db = (dir / "long.db").string();
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };

  // Both children run before this process starts any thread.
  say("1/4 one " + std::to_string(opts.long_turns) + "-turn run in a child process...");
  if (!kill_when_ready([&](int fd) { return hold_long_run(long_db, opts.long_turns, fd); })) {
    std::cerr << "troupe: bench recovery: the child failed before its long run's last turn\n";
    return exit_failure;
  }
  say("2/4 starting " + std::to_string(opts.runs) + " runs in a child process...");
  if (!kill_when_ready([&](int fd) { return hold_runs_in_flight(db, opts.runs, fd); })) {
    std::cerr << "troupe: bench recovery: the child failed before holding its runs\n";
    return exit_failure;
  }
  say("   killed both (SIGKILL); resuming the runs...");
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
    auto provider = std::make_shared<recovery_provider>(2, "");
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

  // Replay speed over everything journaled.
  say("3/4 replaying every run...");
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

  // The long run: read back, resumed, replayed.
  say("4/4 the long run: reading it back, resuming it, replaying it...");
  long_run_figures lr;
  if (auto err = time_reading(long_db, lr))
    return report(err);
  if (auto err = time_resume(long_db, opts.long_turns, lr))
    return report(err);
  if (auto err = time_replays(long_db, registry, lr))
    return report(err);
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
      {"baseline_langgraph_long_run_bytes", 626ull << 20},
      {"baseline_langgraph_history_load_s", 90}};
    out.update(long_run_json(lr, opts.long_turns));
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
    print_long_run(lr, opts.long_turns);
  }
  bool long_ok = lr.completed && lr.replay_identical && lr.replay_from_checkpoint_identical;
  return resumed == opts.runs && identical == runs.size() && long_ok ? exit_ok : exit_failure;
}

} // namespace troupe::cli
