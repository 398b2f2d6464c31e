// `troupe replay` on a real journal: identical when untouched, and the first
// divergence, at the right seq, when the journal was tampered with; replay
// and show from the latest checkpoint.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using namespace troupe;
using troupe::test::contains;
using troupe::test::raw_db;
using troupe::test::run_command;
using troupe::test::temp_dir;

namespace {

// The hello example, run once into a fresh journal: 32 events, 4 of them
// checkpoints; seq 5 is the first policy_decision, 7 the first tool_result,
// 8 its checkpoint (a second call follows), 12 the first turn_end, 14 the
// second turn_start.
struct hello_journal {
  temp_dir tmp;
  std::string db;
  std::string run_id;

  hello_journal() {
    auto src = fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "scenarios"
               / "hello.toml";
    auto scenario = tmp.path / "hello.toml";
    fs::copy_file(src, scenario);
    db = (tmp.path / "journal.db").string();
    auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    auto lines = troupe::test::lines_of(r.out);
    BOOST_REQUIRE(!lines.empty());
    run_id = nlohmann::json::parse(lines.back()).at("run_id").get<std::string>();
  }

  troupe::test::command_result replay() const {
    return run_command({TROUPE_BIN, "replay", run_id, "--db", db});
  }

  // Rewrites event `seq` through `edit`, keeping the row's checksum valid;
  // the hash chain then breaks at the end of `seq`'s batch.
  template <class Edit>
  void tamper(uint32_t seq, Edit edit) {
    raw_db raw(db);
    auto ev = raw.event_at(run_id, seq);
    edit(ev);
    raw.set_event(run_id, seq, ev, true);
  }

  // A forgery: the edit plus a recomputed hash chain, so every row passes its
  // checks and only replay can notice.
  template <class Edit>
  void forge(uint32_t seq, Edit edit) {
    tamper(seq, edit);
    raw_db(db).rechain(run_id);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(replay_cli)

BOOST_FIXTURE_TEST_CASE(an_untouched_run_replays_identical, hello_journal) {
  auto r = replay();
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "identical (32 events, 4 snapshots checked)\n");
  auto json = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--json"});
  BOOST_TEST(json.exit_code == 0);
  auto out = nlohmann::json::parse(json.out);
  BOOST_TEST(out.at("identical").get<bool>());
  BOOST_TEST(out.at("events").get<int>() == 32);
  BOOST_TEST(out.at("snapshots").get<int>() == 4);
}

// Every checkpoint's snapshot is what the fold gives: one that says
// otherwise (here a forgery whose chain was recomputed) is a divergence at
// its seq, naming the field.
BOOST_FIXTURE_TEST_CASE(a_forged_snapshot_is_caught_at_its_seq, hello_journal) {
  forge(8, [](event& ev) { std::get<checkpoint>(ev.body).snapshot->consecutive_errors = 2; });
  auto r = replay();
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "diverged at seq 8"), r.out);
  BOOST_TEST(contains(r.out, "expected: snapshot consecutive_errors=0"), r.out);
  BOOST_TEST(contains(r.out, "got:      snapshot consecutive_errors=2"), r.out);
}

// For long runs: restore the latest checkpoint and replay the events after it.
BOOST_FIXTURE_TEST_CASE(replay_from_the_latest_checkpoint_checks_the_tail, hello_journal) {
  auto r = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--from-checkpoint",
                        "--json"});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  auto out = nlohmann::json::parse(r.out);
  BOOST_TEST(out.at("identical").get<bool>());
  auto from = out.at("from_checkpoint_seq").get<int>();
  BOOST_TEST(from > 8);
  BOOST_TEST(out.at("events").get<int>() == 32 - from);
  BOOST_TEST(out.at("passed_over").get<std::string>().empty());
  r = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--from-checkpoint"});
  BOOST_TEST(r.out == "from the checkpoint at seq " + std::to_string(from)
                        + ": identical (" + std::to_string(32 - from)
                        + " events, 0 snapshots checked)\n");
}

// `troupe show` takes the state from the latest checkpoint and the events
// after it; the timeline still lists every event.
BOOST_FIXTURE_TEST_CASE(show_takes_the_state_from_the_latest_checkpoint, hello_journal) {
  auto r = run_command({TROUPE_BIN, "show", run_id, "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto out = nlohmann::json::parse(r.out);
  auto& state = out.at("state");
  auto from = state.at("from_checkpoint_seq").get<int>();
  BOOST_TEST(from > 8);
  BOOST_TEST(state.at("events_after_checkpoint").get<int>() == 32 - from);
  BOOST_TEST(state.at("phase") == "finished");
  BOOST_TEST(out.at("timeline").size() == 32u);
  BOOST_TEST(out.at("kpis").at("turns").get<int>() > 0);
  r = run_command({TROUPE_BIN, "show", run_id, "--db", db});
  BOOST_TEST(contains(r.out, "state: finished, turn "), r.out);
  BOOST_TEST(contains(r.out, "(checkpoint at seq " + std::to_string(from)), r.out);
}

// A latest snapshot that cannot restore the run is passed over, said, and
// still checked: it lies in the tail replayed from the checkpoint before it.
BOOST_FIXTURE_TEST_CASE(replay_from_a_checkpoint_passes_over_a_bad_one, hello_journal) {
  auto r = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--from-checkpoint",
                        "--json"});
  auto latest = static_cast<uint32_t>(
    nlohmann::json::parse(r.out).at("from_checkpoint_seq").get<int>());
  forge(latest, [](event& ev) { std::get<checkpoint>(ev.body).snapshot->messages += 1; });
  r = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--from-checkpoint"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "note: run " + run_id + ": the checkpoint at seq "
                               + std::to_string(latest) + " cannot restore the run"),
             r.out);
  BOOST_TEST(contains(r.out, "diverged at seq " + std::to_string(latest)), r.out);
  BOOST_TEST(contains(r.out, "snapshot messages="), r.out);
}

BOOST_FIXTURE_TEST_CASE(a_dropped_event_is_refused_where_it_was, hello_journal) {
  raw_db(db).exec("DELETE FROM events WHERE seq = 13");
  auto r = replay();
  BOOST_TEST(r.exit_code == 65);
  BOOST_TEST(contains(r.err, "seq 14 is damaged (seq gap: expected 13"), r.err);
}

// Whether `err` reports a broken hash chain link whose batch holds `seq`:
// "seq B is damaged (hash chain broken at seq B" for a batch of one row,
// "... (the batch of seqs A to B)" for more (how the journal grouped the
// rows into commits depends on timing).
bool names_a_broken_batch_holding(const std::string& err, uint32_t seq) {
  static const std::regex broken(
    R"(seq (\d+) is damaged \(hash chain broken at seq \1( \(the batch of seqs (\d+) to \1\))?)");
  std::smatch m;
  if (!std::regex_search(err, m, broken))
    return false;
  auto last = std::stoul(m[1]);
  auto first = m[3].matched ? std::stoul(m[3]) : last;
  return first <= seq && seq <= last;
}

// Resume, replay, show, export and diff verify what they fold: a row edited
// behind the store's back stops them at its seq, and nothing is folded.
BOOST_FIXTURE_TEST_CASE(an_edited_row_is_refused_by_every_reader, hello_journal) {
  tamper(7, [](event& ev) { std::get<tool_result>(ev.body).ok = false; });
  for (auto cmd : {"replay", "show", "export"}) {
    BOOST_TEST_CONTEXT(cmd) {
      auto r = run_command({TROUPE_BIN, cmd, run_id, "--db", db});
      BOOST_TEST(r.exit_code == 65);
      BOOST_TEST(names_a_broken_batch_holding(r.err, 7), r.err);
      BOOST_TEST(r.out.empty(), r.out);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_forged_tool_result_is_caught_at_the_next_decision,
                        hello_journal) {
  forge(7, [](event& ev) { std::get<tool_result>(ev.body).ok = false; });
  auto r = replay();
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "diverged at seq 8"), r.out);
  BOOST_TEST(contains(r.out, "tool_errors=1"), r.out);
}

BOOST_FIXTURE_TEST_CASE(a_forged_decision_is_caught_at_its_seq, hello_journal) {
  forge(14, [](event& ev) { std::get<turn_start>(ev.body).mode = turn_mode::reminder; });
  auto r = replay();
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "diverged at seq 14"), r.out);
  BOOST_TEST(contains(r.out, "expected: turn_start turn=2 mode=normal"), r.out);
}

BOOST_FIXTURE_TEST_CASE(what_if_a_policy_denies_a_tool_reports_the_split, hello_journal) {
  // The same scenario, but its policy denies list_dir, which the run used.
  auto text = troupe::test::slurp(tmp.path / "hello.toml");
  text += R"(
[policy]
version = 1
mode = "enforce"
[[policy.rule]]
id = "builtin-write_file"
tool = "write_file"
paths = ["**"]
decision = "allow"
[[policy.rule]]
id = "builtin-read_file"
tool = "read_file"
paths = ["**"]
decision = "allow"
[[policy.rule]]
id = "no-listing"
tool = "list_dir"
decision = "deny"
[[policy.rule]]
id = "builtin-complete"
tool = "complete"
decision = "allow"
)";
  auto strict = tmp.path / "strict.toml";
  troupe::test::write_file(strict, text);
  auto r = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--with", strict.string()});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "would split"), r.out);
  // Everything matches until the listing: there the run would have split.
  BOOST_TEST(contains(r.out, "expected: policy_decision t2c2 deny rule=no-listing"), r.out);
  BOOST_TEST(contains(r.out, "got:      policy_decision t2c2 allow rule=builtin-list_dir"),
             r.out);
  auto unchanged = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--with",
                                (tmp.path / "hello.toml").string()});
  BOOST_TEST(unchanged.exit_code == 0, unchanged.out);
}

BOOST_FIXTURE_TEST_CASE(an_exported_run_imports_and_replays_identical, hello_journal) {
  auto exported = run_command({TROUPE_BIN, "export", run_id, "--db", db});
  BOOST_REQUIRE_EQUAL(exported.exit_code, 0);
  auto file = tmp.path / "run.jsonl";
  troupe::test::write_file(file, exported.out);
  auto copy = (tmp.path / "copy.db").string();
  auto imported = run_command({TROUPE_BIN, "import", file.string(), "--db", copy});
  BOOST_TEST(imported.exit_code == 0, imported.err);
  auto again = run_command({TROUPE_BIN, "import", file.string(), "--db", copy});
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(contains(again.out, "imported 0 events"), again.out);
  auto r = run_command({TROUPE_BIN, "replay", run_id, "--db", copy});
  BOOST_TEST(r.exit_code == 0, r.out);
  BOOST_TEST(r.out == "identical (32 events, 4 snapshots checked)\n");
  auto doctor = run_command({TROUPE_BIN, "doctor", "--db", copy});
  BOOST_TEST(doctor.exit_code == 0, doctor.out);
}

BOOST_AUTO_TEST_CASE(every_example_scenario_replays_identical_and_diffs_equal) {
  auto examples = fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "scenarios";
  size_t checked = 0;
  for (auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".toml")
      continue;
    BOOST_TEST_CONTEXT(entry.path().filename()) {
      temp_dir tmp;
      auto scenario = tmp.path / entry.path().filename();
      fs::copy_file(entry.path(), scenario);
      auto db = (tmp.path / "journal.db").string();
      std::vector<std::string> ids;
      for (int i = 0; i < 2; ++i) {
        auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
        auto lines = troupe::test::lines_of(r.out);
        BOOST_REQUIRE_MESSAGE(!lines.empty(), r.err);
        ids.push_back(nlohmann::json::parse(lines.back()).at("run_id").get<std::string>());
        auto replayed = run_command({TROUPE_BIN, "replay", ids.back(), "--db", db});
        BOOST_TEST(replayed.exit_code == 0, replayed.out);
        BOOST_TEST(contains(replayed.out, "identical"), replayed.out);
      }
      auto diff = run_command({TROUPE_BIN, "diff", ids[0], ids[1], "--db", db});
      BOOST_TEST(diff.exit_code == 0, diff.out);
      ++checked;
    }
  }
  BOOST_TEST(checked >= 2u);
}

BOOST_AUTO_TEST_CASE(an_unknown_run_is_a_clear_error) {
  hello_journal j;
  auto r = run_command({TROUPE_BIN, "replay", "nope", "--db", j.db});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "no run 'nope'"), r.err);
}

BOOST_FIXTURE_TEST_CASE(diff_tells_equal_runs_from_different_ones, hello_journal) {
  auto scenario = tmp.path / "hello.toml";
  auto again = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
  BOOST_REQUIRE_EQUAL(again.exit_code, 0);
  auto second = nlohmann::json::parse(troupe::test::lines_of(again.out).back())
                  .at("run_id").get<std::string>();
  auto same = run_command({TROUPE_BIN, "diff", run_id, second, "--db", db});
  BOOST_TEST(same.exit_code == 0);
  BOOST_TEST(same.out == "same steps (32 events each)\n");
  forge(7, [](event& ev) { std::get<tool_result>(ev.body).output = "changed"; });
  auto differ = run_command({TROUPE_BIN, "diff", run_id, second, "--db", db});
  BOOST_TEST(differ.exit_code == 1);
  BOOST_TEST(contains(differ.out, "first difference at seq 7"), differ.out);
  BOOST_TEST(contains(differ.out, "changed"), differ.out);
}

BOOST_AUTO_TEST_SUITE_END()
