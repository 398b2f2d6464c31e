// kill -9 fault injection: `troupe run` is killed at random moments (before,
// between and after write-ahead intents and results), then `troupe resume`
// finishes the run. No unsafe effect may repeat, and nothing acknowledged may
// be lost.

#define BOOST_TEST_MODULE kill_resume
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <random>
#include <thread>

#include "persistence/store.hpp"
#include "core/builtin_tools.hpp"
#include "core/scenario.hpp"
#include "core/replay.hpp"
#include "core/run_rebuild.hpp"
#include "core/run_snapshot.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using namespace troupe;
using namespace troupe::test;

namespace {

std::vector<event> events_of(persistence::store& db, const std::string& run_id) {
  std::vector<event> out;
  auto rows = db.events(run_id);
  BOOST_REQUIRE_MESSAGE(rows, render(rows));
  for (auto& row : *rows) {
    auto ev = decode(row.bytes);
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    out.push_back(std::move(*ev));
  }
  return out;
}

// Right after a kill, before anything resumes: every run, read back from its
// latest checkpoint as resume reads it, is the fold of all its events (the
// property test's "restore + tail = full fold", at real crash points).
// Returns how many runs came back from a checkpoint rather than run_start.
size_t check_read_back(const std::string& db_path) {
  size_t from_checkpoint = 0;
  if (!fs::exists(db_path))
    return 0;
  auto db = persistence::store::open(db_path, persistence::open_mode::read_only);
  if (!db)
    return 0; // killed while creating the journal: resume deals with it
  auto runs = db->list_runs();
  BOOST_REQUIRE_MESSAGE(runs, render(runs));
  for (auto& run : *runs) {
    auto evs = events_of(*db, run.run_id);
    run_state full;
    for (auto& ev : evs)
      apply(full, ev);
    auto rebuilt = rebuild(evs);
    BOOST_REQUIRE_MESSAGE(rebuilt, render(rebuilt));
    BOOST_CHECK_MESSAGE(rebuilt->passed_over.empty(), rebuilt->passed_over);
    from_checkpoint += rebuilt->from_seq() != 0 ? 1 : 0;
    auto st = fold_tail(std::move(*rebuilt));
    auto diff = state_difference(st, full);
    BOOST_CHECK_MESSAGE(diff.empty(), "run " << run.run_id << " read back after the kill: "
                                              << diff);
  }
  return from_checkpoint;
}

// Every journaled delegation has its child, linked to its parent, which ended
// the way the parent's delegation_result says; a child id is never reused.
void check_lineage(persistence::store& db, const std::vector<persistence::run_info>& runs) {
  std::map<std::string, const persistence::run_info*> by_id;
  for (auto& run : runs)
    by_id[run.run_id] = &run;
  for (auto& run : runs) {
    std::set<std::string> children;
    std::set<uint32_t> passed;
    for (auto& ev : events_of(db, run.run_id)) {
      if (auto* d = std::get_if<delegation>(&ev.body)) {
        BOOST_CHECK_MESSAGE(children.insert(d->child_run_id).second,
                            run.run_id << " delegated to " << d->child_run_id << " twice");
        auto child = by_id.find(d->child_run_id);
        if (child == by_id.end())
          continue; // journaled, then killed before the child's run_start: resume started it
        BOOST_CHECK_EQUAL(child->second->parent_run_id, run.run_id);
      }
      // A team never starts a phase again once its gate passed.
      if (auto* g = std::get_if<gate_pass>(&ev.body))
        BOOST_CHECK_MESSAGE(passed.insert(g->phase).second,
                            run.run_id << ": phase " << g->name << " passed twice");
      if (auto* p = std::get_if<phase_start>(&ev.body))
        BOOST_CHECK_MESSAGE(passed.count(p->phase) == 0,
                            run.run_id << ": phase " << p->name << " started after it passed");
      if (auto* r = std::get_if<delegation_result>(&ev.body)) {
        auto child = by_id.find(r->child_run_id);
        BOOST_REQUIRE_MESSAGE(child != by_id.end(), "no child run " << r->child_run_id);
        BOOST_CHECK_MESSAGE(child->second->status == r->status,
                            r->child_run_id << " ended " << to_string(child->second->status)
                                            << ", its parent says " << to_string(r->status));
      }
    }
  }
}

// Right after a kill: a completion `troupe run` printed (it had told its
// caller) is in the journal, as printed. Returns how many it checked.
size_t check_acknowledged(const std::string& printed, const std::string& db_path) {
  size_t n = 0;
  for (auto& line : lines_of(printed)) {
    auto told = nlohmann::json::parse(line, nullptr, false);
    if (!told.is_object() || !told.contains("run_id"))
      continue;
    auto db = persistence::store::open(db_path, persistence::open_mode::read_only);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    auto run_id = told.at("run_id").get<std::string>();
    auto evs = events_of(*db, run_id);
    auto* done = evs.empty() ? nullptr : std::get_if<completion>(&evs.back().body);
    BOOST_REQUIRE_MESSAGE(done, run_id << ": its completion was printed before the kill "
                                       "and is not in the journal");
    BOOST_CHECK_EQUAL(to_string(done->status), told.at("status").get<std::string>());
    BOOST_CHECK_EQUAL(done->answer, told.at("answer").get<std::string>());
    ++n;
  }
  return n;
}

struct trial_outcome {
  bool resumed = false;
  size_t uncertain = 0;
};

// Checks one trial's journal and ledger after `troupe resume`.
trial_outcome check_trial(const std::string& db_path, const fs::path& ledger,
                          const tool_registry& registry,
                          const policy& governance = default_policy()) {
  trial_outcome out;
  if (!fs::exists(db_path))
    return out; // killed before the journal existed
  auto db = persistence::store::open(db_path, persistence::open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto report = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(report, render(report));
  for (auto& p : report->problems)
    BOOST_ERROR("integrity: run " << p.run_id << " seq " << p.seq << ": " << p.what);
  auto runs = db->list_runs();
  BOOST_REQUIRE(runs);
  auto lines = fs::exists(ledger) ? lines_of(slurp(ledger)) : std::vector<std::string>{};
  std::map<std::string, int> line_count;
  for (auto& l : lines)
    ++line_count[l];
  auto times = [&](const std::string& line) {
    auto i = line_count.find(line);
    return i == line_count.end() ? 0 : i->second;
  };
  for (auto& run : *runs) {
    BOOST_TEST_CONTEXT("run " << run.run_id) {
      BOOST_CHECK_MESSAGE(run.status != run_status::running, "not finished");
      auto evs = events_of(*db, run.run_id);
      BOOST_REQUIRE(!evs.empty());
      BOOST_CHECK(std::holds_alternative<completion>(evs.back().body));
      for (size_t i = 0; i < evs.size(); ++i)
        BOOST_REQUIRE_EQUAL(evs[i].seq, i + 1);
      // Every append intent: a completed one left its line exactly once; an
      // uncertain one at most once.
      std::map<std::string, std::string> content_of;
      for (auto& ev : evs)
        if (auto* c = std::get_if<tool_call>(&ev.body); c && c->name == "append_file") {
          auto args = nlohmann::json::parse(c->args_json);
          auto text = args.at("content").get<std::string>();
          content_of[c->call_id] = text.substr(0, text.size() - 1);
        }
      for (auto& ev : evs) {
        auto* r = std::get_if<tool_result>(&ev.body);
        if (r == nullptr || r->name != "append_file")
          continue;
        auto& line = content_of[r->call_id];
        bool uncertain = contains(r->output, "is unknown");
        if (uncertain) {
          ++out.uncertain;
          BOOST_CHECK_LE(times(line), 1);
        } else {
          BOOST_CHECK_MESSAGE(r->ok, r->output);
          BOOST_CHECK_MESSAGE(times(line) == 1,
                              line << " appears " << times(line) << " times");
        }
      }
      for (auto& [line, n] : line_count)
        BOOST_CHECK_MESSAGE(n == 1, line << " appears " << n << " times");
      auto replayed = replay_run(evs, registry, governance);
      BOOST_CHECK_MESSAGE(replayed.identical(),
                          "replay diverged at seq " << replayed.divergence->seq
                            << ": expected " << replayed.divergence->expected
                            << ", got " << replayed.divergence->got);
      auto rebuilt = rebuild(evs);
      BOOST_REQUIRE_MESSAGE(rebuilt, render(rebuilt));
      auto tail = replay_from_checkpoint(*rebuilt, registry, governance);
      BOOST_CHECK_MESSAGE(tail.identical(), "replay from the checkpoint at seq "
                                              << tail.from_seq << " diverged");
      out.resumed = true;
    }
  }
  check_lineage(*db, *runs);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(kill_resume)

#if defined(__SANITIZE_ADDRESS__)
constexpr int kill_trials_divisor = 2; // each trial is slower; keep the test's time
constexpr int tree_trials_divisor = 4; // a tree or team trial runs several runs
#else
constexpr int kill_trials_divisor = 1;
constexpr int tree_trials_divisor = 1;
#endif

// The slowest of three whole `troupe run`s of the appender on this machine
// now (about 0.2 s plain, several times that under ASan or load). Kill delays
// are drawn across it, so kills land before, during and after the run
// wherever its start-up ends.
std::chrono::microseconds whole_run_time(const char* scenario_file = "appender.toml") {
  std::chrono::microseconds slowest{0};
  for (int i = 0; i < 3; ++i) {
    temp_dir tmp("troupe-kill-calibration");
    auto scenario = tmp.path / scenario_file;
    fs::copy_file(fs::path{TROUPE_SCENARIOS} / scenario_file, scenario);
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db",
                          (tmp.path / "journal.db").string(), "--no-resume"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - t0));
  }
  return slowest;
}

// `trials` kills of `troupe run SCENARIO` at random moments, each followed by
// `troupe resume` and check_trial.
void kill_trials(const char* scenario_file, int trials, int min_completed_runs) {
  std::random_device rd;
  auto seed = std::getenv("TROUPE_KILL_SEED")
                ? static_cast<unsigned>(std::stoul(std::getenv("TROUPE_KILL_SEED")))
                : rd();
  std::cerr << scenario_file << ": kill/resume seed " << seed << " (TROUPE_KILL_SEED)"
            << std::endl;
  std::mt19937 rng(seed);
  // Half a run more than one whole run: start-up is most of a run under ASan
  // (~330 of 465 ms), so kills must reach well past it.
  auto window = whole_run_time(scenario_file) * 3 / 2;
  std::uniform_int_distribution<int64_t> delay_us(0, window.count());
  tool_registry registry;
  BOOST_REQUIRE(!register_builtin_tools(registry));
  // Replay decides with the scenario's own policy.
  auto sc = load_scenario(fs::path{TROUPE_SCENARIOS} / scenario_file, registry.names());
  BOOST_REQUIRE_MESSAGE(sc, render(sc));
  auto governance = sc->governance;
  std::cerr << scenario_file << ": " << trials << " trials, kill delays 0-"
            << window.count() / 1000 << " ms (1.5 whole runs here)" << std::endl;
  int resumed = 0, completed_before_kill = 0;
  size_t uncertain = 0, read_back_from_checkpoint = 0, acknowledged = 0;
  for (int t = 0; t < trials; ++t) {
    BOOST_TEST_CONTEXT("seed " << seed << " trial " << t) {
      temp_dir tmp("troupe-kill");
      auto scenario = tmp.path / scenario_file;
      fs::copy_file(fs::path{TROUPE_SCENARIOS} / scenario_file, scenario);
      auto db = (tmp.path / "journal.db").string();
      auto child = spawn_with_stdout(
        {TROUPE_BIN, "run", scenario.string(), "--db", db, "--no-resume", "--json"});
      BOOST_REQUIRE(child.pid > 0);
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
      ::kill(child.pid, SIGKILL);
      std::string out;
      read_to_end(child, out);
      auto code = wait_for(child);
      if (code == 0)
        ++completed_before_kill;
      acknowledged += check_acknowledged(out, db);
      read_back_from_checkpoint += check_read_back(db);
      auto res = run_command({TROUPE_BIN, "resume", "--db", db});
      BOOST_CHECK_MESSAGE(res.exit_code == 0 || !fs::exists(db),
                          "resume exit " << res.exit_code << ": " << res.err);
      auto outcome = check_trial(db, tmp.path / "work" / "ledger.txt", registry, governance);
      resumed += outcome.resumed ? 1 : 0;
      uncertain += outcome.uncertain;
    }
  }
  std::cerr << scenario_file << ": " << trials << " trials, " << resumed
            << " with a journaled run, " << completed_before_kill
            << " finished before the kill, " << uncertain
            << " uncertain append calls, " << read_back_from_checkpoint
            << " runs read back from a checkpoint after the kill, " << acknowledged
            << " completions acknowledged before the kill, all in the journal" << std::endl;
  // Kills that always land before the run exists would test nothing.
  BOOST_TEST(resumed > min_completed_runs);
  BOOST_TEST(read_back_from_checkpoint > 0u);
}

BOOST_AUTO_TEST_CASE(sigkill_then_resume_never_repeats_an_unsafe_effect) {
  constexpr int trials = 200 / kill_trials_divisor;
  kill_trials("appender.toml", trials, trials / 4);
}

// An SOP team killed anywhere (a role's fix turn, between phases, during
// the review): no line appended twice, no passed phase started again, every
// node replays identical.
BOOST_AUTO_TEST_CASE(sigkill_anywhere_in_a_team_run_then_resume) {
  constexpr int trials = 100 / tree_trials_divisor;
  kill_trials("team_ledger.toml", trials, trials / 4);
}

// The same anywhere in a delegation tree: every unfinished node continues
// from its journal, a child that ended is not run again (its parent gets its
// journaled end), and no unsafe call anywhere in the tree runs twice.
BOOST_AUTO_TEST_CASE(sigkill_anywhere_in_a_delegation_tree_then_resume) {
  constexpr int trials = 100 / tree_trials_divisor;
  kill_trials("tree_appender.toml", trials, trials / 4);
}

// Several processes on one journal: after a kill, four `troupe resume` start
// at once. Each unfinished run has one owner (persistence/run_owner.hpp), so
// exactly one of them drives it; before ownership, all four did, and lines
// were appended twice and seqs collided.
BOOST_AUTO_TEST_CASE(concurrent_resumes_drive_each_run_once) {
  std::random_device rd;
  auto seed = rd();
  std::cerr << "concurrent resume seed " << seed << std::endl;
  std::mt19937 rng(seed);
  auto window = whole_run_time();
  std::uniform_int_distribution<int64_t> delay_us(window.count() / 4, window.count());
  tool_registry registry;
  BOOST_REQUIRE(!register_builtin_tools(registry));
  constexpr int trials = 30 / kill_trials_divisor;
  constexpr int resumers = 4;
  int resumed = 0;
  for (int t = 0; t < trials; ++t) {
    BOOST_TEST_CONTEXT("seed " << seed << " trial " << t) {
      temp_dir tmp("troupe-shared");
      auto scenario = tmp.path / "appender.toml";
      fs::copy_file(fs::path{TROUPE_SCENARIOS} / "appender.toml", scenario);
      auto db = (tmp.path / "journal.db").string();
      auto victim = spawn_with_stdout(
        {TROUPE_BIN, "run", scenario.string(), "--db", db, "--no-resume", "--json"});
      BOOST_REQUIRE(victim.pid > 0);
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
      ::kill(victim.pid, SIGKILL);
      std::string ignored;
      read_to_end(victim, ignored);
      static_cast<void>(wait_for(victim));
      std::vector<child_process> children;
      for (int i = 0; i < resumers; ++i)
        children.push_back(spawn_with_stdout({TROUPE_BIN, "resume", "--db", db}));
      for (auto& c : children) {
        std::string out;
        read_to_end(c, out);
        auto code = wait_for(c);
        BOOST_CHECK_MESSAGE(code == 0 || !fs::exists(db), "resume exit " << code << ": " << out);
      }
      auto outcome = check_trial(db, tmp.path / "work" / "ledger.txt", registry);
      resumed += outcome.resumed ? 1 : 0;
    }
  }
  std::cerr << "concurrent resume: " << resumed << " of " << trials
            << " trials had a run to resume" << std::endl;
  BOOST_TEST(resumed > 0);
}

// Processes that find no journal yet all create it at once: the schema is
// created under the write lock, once ("table runs already exists" and "not a
// troupe journal" before).
BOOST_AUTO_TEST_CASE(processes_creating_one_journal_at_once_all_succeed) {
  constexpr int rounds = 5;
  constexpr int processes = 6;
  for (int round = 0; round < rounds; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      temp_dir tmp("troupe-create");
      auto scenario = tmp.path / "appender.toml";
      fs::copy_file(fs::path{TROUPE_SCENARIOS} / "appender.toml", scenario);
      auto db = (tmp.path / "journal.db").string();
      std::vector<child_process> children;
      for (int i = 0; i < processes; ++i)
        children.push_back(spawn_with_stdout(
          {TROUPE_BIN, "run", scenario.string(), "--db", db, "--no-resume", "--json"}));
      for (auto& c : children) {
        std::string out;
        read_to_end(c, out);
        BOOST_CHECK_MESSAGE(wait_for(c) == 0, "troupe run: " << out);
      }
      auto doctor = run_command({TROUPE_BIN, "doctor", "--db", db});
      BOOST_TEST(doctor.exit_code == 0, doctor.out << doctor.err);
      auto runs = run_command({TROUPE_BIN, "runs", "--db", db, "--json"});
      BOOST_REQUIRE_EQUAL(runs.exit_code, 0);
      BOOST_TEST(nlohmann::json::parse(runs.out).size() == size_t{processes}, runs.out);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
