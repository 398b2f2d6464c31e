// The `troupe` console as an operator meets it: the real binary against real
// journals, checking exit codes, stdout, the one-line stderr, and that a
// failing command never writes.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/run_command.hpp"
#include "test/support/schema_v1.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

#ifndef TROUPE_BIN
#  error "TROUPE_BIN must name the troupe executable"
#endif

using namespace troupe;
using namespace troupe::persistence;
using troupe::test::command_result;
using troupe::test::contains;
using troupe::test::exec_raw;
using troupe::test::lines_of;
using troupe::test::raw_db;
using troupe::test::seal;
using troupe::test::slurp;
using troupe::test::temp_dir;

namespace {

command_result troupe_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), TROUPE_BIN);
  return troupe::test::run_command(args);
}

/// The error contract: exactly one line on stderr, starting with "troupe: ".
void check_one_error_line(const command_result& r) {
  auto lines = lines_of(r.err);
  BOOST_TEST(lines.size() == 1u, "stderr: " << r.err);
  BOOST_TEST(r.err.rfind("troupe: ", 0) == 0u, "stderr: " << r.err);
  BOOST_TEST((r.err.empty() || r.err.back() == '\n'));
}

/// Flips one byte in the middle of an event's body with raw SQL, leaving the
/// crc column as it was.
void flip_body_byte(const std::string& path, const std::string& run,
                    uint32_t seq) {
  raw_db raw(path);
  auto body = raw.body(run, seq);
  body[body.size() / 2] ^= 0x01;
  raw.set_body(run, seq, body, false);
}

/// An event of `run` at `seq`, stamped one millisecond per event.
event make_event(const std::string& run, uint32_t seq, event_body body) {
  return test::make_event(run, seq, std::move(body),
                          test::base_ts_us + seq * 1000);
}

std::vector<event> run_one_events() {
  run_start start;
  start.agent = "lead";
  start.tenant = "acme";
  start.task = "say \"hi\"";
  start.tools = {"echo", "complete"};
  kpis totals{1, 1, 1, 0, 0, 120, 30, 1500, 0, 0};
  std::vector<event_body> bodies{
    start,
    turn_start{1, turn_mode::normal},
    model_request{1, "script", {"echo"}, 2},
    model_reply{1, "", {{"c1", "echo", R"({"text":"hi"})"}}, {120, 30}, "", 42},
    tool_call{"c1", "echo", R"({"text":"hi"})"},
    policy_decision{"c1", decision_kind::allow, "default", "v1", ""},
    tool_result{"c1", "echo", true, "hi"},
    turn_end{1},
    completion{run_status::completed, "hi", "said hi", "", totals},
  };
  std::vector<event> out;
  for (auto& b : bodies)
    out.push_back(make_event("r-1", static_cast<uint32_t>(out.size() + 1), b));
  return out;
}

/// r-1: a completed run with one event of most kinds; r-2: still running.
void write_journal(const std::string& path) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  std::vector<sealed_event> batch;
  for (auto& ev : run_one_events())
    batch.push_back(seal(ev));
  run_start start;
  start.agent = "coder";
  batch.push_back(seal(make_event("r-2", 1, start)));
  batch.push_back(seal(make_event("r-2", 2, turn_start{1, turn_mode::normal})));
  auto err = db->append(batch);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
}

/// A version-1 journal (test/support/schema_v1.hpp): run old-run, with the
/// first three events of r-1.
void write_v1_journal(const std::string& path) {
  raw_db raw(path);
  raw.exec(test::schema_v1);
  raw.exec("INSERT INTO runs(id, run_id, root_run_id, agent, status, "
           "created_us, updated_us) "
           "VALUES (1, 'old-run', 'old-run', 'lead', 'running', 1, 1)");
  for (auto& ev : run_one_events()) {
    if (ev.seq > 3)
      break;
    ev.run_id = ev.root_run_id = "old-run";
    test::insert_v1_event(raw, 1, ev);
  }
}

/// Runs a command expected to fail and checks that the file did not change.
command_result failing(const std::string& db, std::vector<std::string> args) {
  auto before = slurp(db);
  auto r = troupe_cmd(std::move(args));
  BOOST_TEST((slurp(db) == before), "the command changed " << db);
  BOOST_TEST(r.exit_code != 0);
  return r;
}

struct journal_fixture {
  temp_dir dir;
  std::string db = dir.file("journal.db");
  journal_fixture() { write_journal(db); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_FIXTURE_TEST_CASE(runs_lists_every_run, journal_fixture) {
  auto r = troupe_cmd({"runs", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.empty(), r.err);
  BOOST_TEST(contains(r.out, "r-1"));
  BOOST_TEST(contains(r.out, "r-2"));
  BOOST_TEST(contains(r.out, "completed"));
  BOOST_TEST(contains(r.out, "running"));
  r = troupe_cmd({"runs", "--db", db, "--status", "completed"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "r-1"));
  BOOST_TEST(!contains(r.out, "r-2"));
}

BOOST_FIXTURE_TEST_CASE(runs_json_is_one_parseable_array, journal_fixture) {
  auto r = troupe_cmd({"runs", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
  BOOST_REQUIRE(j.is_array());
  BOOST_REQUIRE_EQUAL(j.size(), 2u);
  BOOST_TEST(j[0]["run_id"] == "r-1");
  BOOST_TEST(j[0]["status"] == "completed");
  BOOST_TEST(j[0]["agent"] == "lead");
  BOOST_TEST(j[0]["tenant"] == "acme");
  BOOST_TEST(j[0]["events"] == 9);
  BOOST_TEST(j[0]["kpis"]["turns"] == 1);
  BOOST_TEST(j[0]["kpis"]["wall_ms"] == 1500);
  BOOST_TEST(j[1]["run_id"] == "r-2");
  BOOST_TEST(j[1]["status"] == "running");
  BOOST_TEST(j[1]["events"] == 2);
}

BOOST_FIXTURE_TEST_CASE(show_prints_the_timeline_with_kinds, journal_fixture) {
  auto r = troupe_cmd({"show", "r-1", "--db", db});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (auto& ev : run_one_events())
    BOOST_TEST(contains(r.out, std::string(to_string(ev.kind()))),
               to_string(ev.kind()) << " missing from:\n" << r.out);
  BOOST_TEST(contains(r.out, "lead"));
  r = troupe_cmd({"show", "r-1", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
  BOOST_REQUIRE_EQUAL(j["timeline"].size(), 9u);
  BOOST_TEST(j["timeline"][8]["kind"] == "completion");
  BOOST_TEST(j["timeline"][8]["seq"] == 9);
  BOOST_TEST(j["state"]["phase"] == "finished");
  BOOST_TEST(j["state"]["from_checkpoint_seq"] == 0); // the run has no checkpoint
  BOOST_TEST(j["state"]["events_after_checkpoint"] == 9);
}

BOOST_FIXTURE_TEST_CASE(export_prints_one_json_object_per_event,
                        journal_fixture) {
  auto r = troupe_cmd({"export", "r-1", "--db", db});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  auto events = run_one_events();
  BOOST_REQUIRE_EQUAL(lines.size(), events.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i], nullptr, false);
    BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "line " << i << ": " << lines[i]);
    BOOST_TEST(j["run_id"] == "r-1");
    BOOST_TEST(j["seq"] == i + 1);
    auto kind = std::string(to_string(events[i].kind()));
    BOOST_TEST(j["kind"] == kind);
    BOOST_TEST(j.contains(kind), "no body member '" << kind << "'");
  }
  auto tool = nlohmann::json::parse(lines[4]);
  BOOST_TEST(tool["tool_call"]["call_id"] == "c1");
  BOOST_TEST(tool["tool_call"]["args_json"] == R"({"text":"hi"})");
}

BOOST_FIXTURE_TEST_CASE(doctor_reports_a_clean_journal, journal_fixture) {
  auto r = troupe_cmd({"doctor", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(contains(r.out, "clean"));
  BOOST_TEST(!contains(r.out, "NOT CLEAN"));
  r = troupe_cmd({"doctor", "--db", db, "--json"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
  BOOST_TEST(j["clean"] == true);
  BOOST_TEST(j["runs"] == 2);
  BOOST_TEST(j["events"] == 11);
  BOOST_TEST(j["schema_version"] == current_schema_version);
}

BOOST_AUTO_TEST_CASE(missing_database_exits_66_and_creates_nothing) {
  temp_dir dir;
  auto db = dir.file("nowhere.db");
  std::vector<std::vector<std::string>> commands{
    {"runs", "--db", db},   {"show", "r-1", "--db", db},
    {"export", "r-1", "--db", db}, {"doctor", "--db", db},
    {"migrate", "--db", db}};
  for (auto& args : commands) {
    BOOST_TEST_CONTEXT("troupe " << args[0]) {
      auto r = troupe_cmd(args);
      BOOST_TEST(r.exit_code == 66);
      check_one_error_line(r);
      BOOST_TEST(contains(r.err, db), r.err);
      BOOST_TEST(r.out.empty(), r.out);
      BOOST_TEST(std::filesystem::is_empty(dir.path),
                 "files appeared in " << dir.path);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(unknown_run_exits_1_naming_the_run, journal_fixture) {
  for (auto cmd : {"show", "export"}) {
    BOOST_TEST_CONTEXT("troupe " << cmd) {
      auto r = failing(db, {cmd, "no-such-run", "--db", db});
      BOOST_TEST(r.exit_code == 1);
      check_one_error_line(r);
      BOOST_TEST(contains(r.err, "no-such-run"), r.err);
      BOOST_TEST(r.out.empty(), r.out);
    }
  }
}

BOOST_AUTO_TEST_CASE(text_file_exits_65) {
  temp_dir dir;
  auto db = dir.file("notes.txt");
  std::ofstream(db) << "not a database at all\n";
  for (auto cmd : {"runs", "doctor", "migrate"}) {
    BOOST_TEST_CONTEXT("troupe " << cmd) {
      auto r = failing(db, {cmd, "--db", db});
      BOOST_TEST(r.exit_code == 65);
      check_one_error_line(r);
      BOOST_TEST(contains(r.err, db), r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(newer_schema_exits_65_naming_the_version) {
  temp_dir dir;
  auto db = dir.file("future.db");
  write_journal(db);
  exec_raw(db, "PRAGMA user_version = 99");
  for (auto cmd : {"runs", "doctor", "migrate"}) {
    BOOST_TEST_CONTEXT("troupe " << cmd) {
      auto r = failing(db, {cmd, "--db", db});
      BOOST_TEST(r.exit_code == 65);
      check_one_error_line(r);
      BOOST_TEST(contains(r.err, "99"), r.err);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(doctor_exits_65_naming_the_corrupted_run_and_seq,
                        journal_fixture) {
  flip_body_byte(db, "r-1", 5);
  auto r = failing(db, {"doctor", "--db", db});
  BOOST_TEST(r.exit_code == 65);
  BOOST_TEST(contains(r.out, "run r-1 seq 5"), r.out);
  BOOST_TEST(contains(r.out, "checksum"), r.out);
  BOOST_TEST(contains(r.out, "NOT CLEAN"), r.out);
  r = failing(db, {"doctor", "--db", db, "--json"});
  BOOST_TEST(r.exit_code == 65);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
  BOOST_TEST(j["clean"] == false);
  BOOST_REQUIRE_EQUAL(j["problems"].size(), 1u);
  BOOST_TEST(j["problems"][0]["run_id"] == "r-1");
  BOOST_TEST(j["problems"][0]["seq"] == 5);
}

BOOST_AUTO_TEST_CASE(version_1_journal_needs_migrate_then_works) {
  temp_dir dir;
  auto db = dir.file("v1.db");
  write_v1_journal(db);
  for (auto cmd : {"runs", "doctor"}) {
    BOOST_TEST_CONTEXT("troupe " << cmd) {
      auto r = failing(db, {cmd, "--db", db});
      BOOST_TEST(r.exit_code == 65);
      check_one_error_line(r);
      BOOST_TEST(contains(r.err, "troupe migrate"), r.err);
    }
  }
  auto r = troupe_cmd({"migrate", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "migrated from schema version 1 to "
                               + std::to_string(current_schema_version)),
             r.out);
  r = troupe_cmd({"runs", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "old-run"), r.out);
  r = troupe_cmd({"doctor", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  r = troupe_cmd({"migrate", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "already at schema version "
                               + std::to_string(current_schema_version)),
             r.out);
}

BOOST_FIXTURE_TEST_CASE(bad_arguments_exit_64, journal_fixture) {
  auto r = failing(db, {"--log-level", "loud", "runs", "--db", db});
  BOOST_TEST(r.exit_code == 64);
  check_one_error_line(r);
  BOOST_TEST(contains(r.err, "loud"), r.err);
  r = failing(db, {"--log-format", "xml", "runs", "--db", db});
  BOOST_TEST(r.exit_code == 64);
  check_one_error_line(r);
  r = failing(db, {"runs", "--db", db, "--status", "sleeping"});
  BOOST_TEST(r.exit_code == 64);
  check_one_error_line(r);
  r = failing(db, {"frobnicate"});
  BOOST_TEST(r.exit_code == 64);
  r = failing(db, {"show", "--db", db}); // RUN is required
  BOOST_TEST(r.exit_code == 64);
}

BOOST_FIXTURE_TEST_CASE(json_logs_are_json_lines_only, journal_fixture) {
  auto r = troupe_cmd(
    {"--log-format", "json", "--log-level", "debug", "runs", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "r-1"));
  for (auto& line : lines_of(r.err)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST((!j.is_discarded() && j.is_object()), "not JSON: " << line);
  }
  // A failing command logs JSON too; its one troupe: line is the exception.
  r = failing(db, {"--log-format", "json", "--log-level", "debug", "show",
                   "nope", "--db", db});
  BOOST_TEST(r.exit_code == 1);
  for (auto& line : lines_of(r.err)) {
    if (line.rfind("troupe: ", 0) == 0)
      continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST((!j.is_discarded() && j.is_object()), "not JSON: " << line);
  }
}

BOOST_AUTO_TEST_SUITE_END()
