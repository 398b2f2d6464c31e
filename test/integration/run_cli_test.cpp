// `troupe run` end to end: the real binary plays the scenarios of
// test/scenarios/ and the tests check the exit code, the JSON result line and
// the journal it leaves behind (read back with the store, decoded with the
// codec). Every scenario is copied into a fresh temp directory first, so
// workspaces (relative to the scenario file) never land in the source tree.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

#ifndef TROUPE_BIN
#  error "TROUPE_BIN must name the troupe executable"
#endif
#ifndef TROUPE_SCENARIOS
#  error "TROUPE_SCENARIOS must name test/scenarios"
#endif

using namespace troupe;
using namespace troupe::persistence;
namespace fs = std::filesystem;
using troupe::test::command_result;
using troupe::test::contains;
using troupe::test::lines_of;
using troupe::test::slurp;
using troupe::test::temp_dir;

namespace {

/// Copies `src` (a scenario file) into `dir` keeping its relative name
/// (`bad/x.toml` stays under `bad/`) and returns the copy's path.
fs::path copy_into(const fs::path& src, const fs::path& dir, const fs::path& rel) {
  auto dst = dir / rel;
  fs::create_directories(dst.parent_path());
  fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
  return dst;
}

fs::path copy_scenario(const temp_dir& tmp, const std::string& rel) {
  return copy_into(fs::path{TROUPE_SCENARIOS} / rel, tmp.path, rel);
}

/// One `troupe run` and what it left behind.
struct cli_run {
  command_result cmd;
  nlohmann::json result; ///< the last stdout line (null if it did not parse)
  std::string db;
};

cli_run troupe_run(const fs::path& scenario, const std::string& db,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{TROUPE_BIN, "run", scenario.string(), "--db", db,
                                "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  cli_run r;
  r.cmd = troupe::test::run_command(argv);
  r.db = db;
  auto lines = lines_of(r.cmd.out);
  if (!lines.empty())
    r.result = nlohmann::json::parse(lines.back(), nullptr, false);
  if (r.result.is_discarded())
    r.result = nullptr;
  return r;
}

/// Runs the scenario `rel` (copied into `tmp`) and checks that the CLI
/// produced a JSON result; returns the run.
cli_run run_scenario(const temp_dir& tmp, const std::string& rel,
                     std::vector<std::string> extra = {}) {
  auto path = copy_scenario(tmp, rel);
  auto r = troupe_run(path, (tmp.path / "journal.db").string(), std::move(extra));
  BOOST_TEST_INFO("stdout: " << r.cmd.out << "\nstderr: " << r.cmd.err);
  BOOST_REQUIRE(r.result.is_object());
  return r;
}

std::string str(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// Every event of `run_id`, decoded, in seq order.
std::vector<event> journal_of(const std::string& db, const std::string& run_id) {
  std::vector<event> out;
  for (auto& row : troupe::test::read_run(db, run_id)) {
    auto ev = decode(row.bytes, "run " + row.run_id + " seq " + std::to_string(row.seq));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    BOOST_CHECK_EQUAL(ev->seq, row.seq);
    out.push_back(std::move(*ev));
  }
  return out;
}

template <class T>
std::vector<T> bodies_of(const std::vector<event>& evs) {
  std::vector<T> out;
  for (auto& ev : evs)
    if (auto* x = std::get_if<T>(&ev.body))
      out.push_back(*x);
  return out;
}

bool has_turn_mode(const std::vector<event>& evs, turn_mode mode) {
  for (auto& t : bodies_of<turn_start>(evs))
    if (t.mode == mode)
      return true;
  return false;
}

/// Seq contiguous from 1, exactly one completion and it is the last event,
/// and every tool_call followed by exactly one tool_result with its call id.
void check_journal_shape(const std::vector<event>& evs) {
  BOOST_REQUIRE(!evs.empty());
  for (size_t i = 0; i < evs.size(); ++i)
    BOOST_CHECK_EQUAL(evs[i].seq, i + 1);
  BOOST_CHECK(evs.front().kind() == event_kind::run_start);
  BOOST_CHECK(evs.back().kind() == event_kind::completion);
  BOOST_CHECK_EQUAL(bodies_of<completion>(evs).size(), 1u);
  std::map<std::string, int> open; // call id -> results still due
  for (auto& ev : evs) {
    if (auto* c = std::get_if<tool_call>(&ev.body)) {
      BOOST_CHECK_MESSAGE(open.count(c->call_id) == 0, "tool_call " << c->call_id << " twice");
      open[c->call_id] = 1;
    } else if (auto* r = std::get_if<tool_result>(&ev.body)) {
      auto i = open.find(r->call_id);
      BOOST_CHECK_MESSAGE(i != open.end() && i->second == 1,
                          "tool_result " << r->call_id << " without a pending tool_call");
      if (i != open.end())
        i->second = 0;
    }
  }
  for (auto& [id, due] : open)
    BOOST_CHECK_MESSAGE(due == 0, "tool_call " << id << " has no tool_result");
}

/// The contract of a run that hit a limit: exit 2, status limit_reached, the
/// limit named as reason, a summary, and in the journal one `recovery` event
/// naming the limit and a final `completion` that agrees with the JSON line.
std::vector<event> check_limit_run(const std::string& file, const std::string& limit) {
  temp_dir tmp;
  auto r = run_scenario(tmp, file);
  BOOST_TEST_INFO("stdout: " << r.cmd.out << "\nstderr: " << r.cmd.err);
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 2);
  BOOST_CHECK_EQUAL(str(r.result, "status"), "limit_reached");
  BOOST_CHECK_EQUAL(str(r.result, "reason"), limit);
  BOOST_CHECK(!str(r.result, "summary").empty());
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  check_journal_shape(evs);
  auto recoveries = bodies_of<recovery>(evs);
  BOOST_REQUIRE_EQUAL(recoveries.size(), 1u);
  BOOST_CHECK_EQUAL(recoveries[0].reason, limit);
  BOOST_CHECK(!recoveries[0].detail.empty());
  BOOST_CHECK(has_turn_mode(evs, turn_mode::recovery));
  auto& done = std::get<completion>(evs.back().body);
  BOOST_CHECK(done.status == run_status::limit_reached);
  BOOST_CHECK_EQUAL(done.reason, limit);
  BOOST_CHECK_EQUAL(done.summary, str(r.result, "summary"));
  // The recovery turn offers `complete` alone.
  bool in_recovery = false;
  for (auto& ev : evs) {
    if (auto* t = std::get_if<turn_start>(&ev.body))
      in_recovery = t->mode == turn_mode::recovery;
    if (auto* m = std::get_if<model_request>(&ev.body); m && in_recovery)
      BOOST_CHECK(m->tools == std::vector<std::string>{"complete"});
  }
  return evs;
}

/// The contract of a run that completed: exit 0, status completed, and a
/// journal of the right shape, which it returns.
std::vector<event> check_completed_run(const cli_run& r) {
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 0);
  BOOST_CHECK_EQUAL(str(r.result, "status"), "completed");
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  check_journal_shape(evs);
  return evs;
}

const tool_result* result_for(const std::vector<tool_result>& results,
                              const std::string& call_id) {
  for (auto& r : results)
    if (r.call_id == call_id)
      return &r;
  return nullptr;
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_cli)

// -- limits -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_turns_ends_limit_reached_with_runtime_summary) {
  auto evs = check_limit_run("max_turns.toml", "max_turns");
  // The recovery turn called a withheld tool: refused, so troupe summarized.
  auto& done = std::get<completion>(evs.back().body);
  BOOST_CHECK(contains(done.summary, "max_turns"));
  bool refused = false;
  for (auto& e : bodies_of<error_event>(evs))
    refused = refused || (to_string(e.code) == "refused" && !e.call_id.empty());
  BOOST_CHECK(refused);
  BOOST_CHECK_EQUAL(bodies_of<turn_start>(evs).size(), 3u);
}

BOOST_AUTO_TEST_CASE(max_tool_calls_refuses_the_call_over_budget) {
  auto evs = check_limit_run("max_tool_calls.toml", "max_tool_calls");
  size_t echoes = 0;
  for (auto& c : bodies_of<tool_call>(evs))
    echoes += c.name == "echo";
  BOOST_CHECK_EQUAL(echoes, 3u);
  bool refused = false;
  for (auto& e : bodies_of<error_event>(evs))
    refused = refused || contains(e.message, "tool-call limit");
  BOOST_CHECK(refused);
}

BOOST_AUTO_TEST_CASE(max_tokens_counts_scripted_usage) {
  auto evs = check_limit_run("max_tokens.toml", "max_tokens");
  auto& done = std::get<completion>(evs.back().body);
  BOOST_CHECK_GE(done.totals.input_tokens + done.totals.output_tokens, 1000u);
}

BOOST_AUTO_TEST_CASE(deadline_is_measured_from_event_timestamps) {
  auto evs = check_limit_run("deadline.toml", "deadline");
  // Hit long before the 40-reply script or max_turns could end the run.
  BOOST_CHECK_LT(bodies_of<turn_start>(evs).size(), 40u);
}

BOOST_AUTO_TEST_CASE(consecutive_tool_errors_reach_the_limit) {
  auto evs = check_limit_run("consecutive_errors.toml", "max_consecutive_errors");
  auto results = bodies_of<tool_result>(evs);
  size_t failed_reads = 0;
  for (auto& r : results)
    failed_reads += r.name == "read_file" && !r.ok;
  BOOST_CHECK_EQUAL(failed_reads, 2u);
}

BOOST_AUTO_TEST_CASE(provider_failures_end_as_provider_failed) {
  auto evs = check_limit_run("provider_failed.toml", "provider_failed");
  size_t failures = 0;
  for (auto& m : bodies_of<model_reply>(evs))
    failures += m.failure == "server_error";
  BOOST_CHECK_EQUAL(failures, 3u);
}

BOOST_AUTO_TEST_CASE(malformed_arguments_reach_max_parse_failures) {
  auto evs = check_limit_run("parse_failures.toml", "max_parse_failures");
  BOOST_CHECK_EQUAL(bodies_of<parse_failure>(evs).size(), 2u);
  BOOST_CHECK(has_turn_mode(evs, turn_mode::repair));
}

BOOST_AUTO_TEST_CASE(exhausted_script_ends_by_the_contract) {
  auto evs = check_limit_run("script_exhausted.toml", "provider_failed");
  size_t exhausted = 0;
  for (auto& m : bodies_of<model_reply>(evs))
    exhausted += m.failure == "exhausted";
  // Three failures reach the tolerance; the recovery turn fails once more.
  BOOST_CHECK_EQUAL(exhausted, 4u);
  auto& done = std::get<completion>(evs.back().body);
  BOOST_CHECK(contains(done.summary, "provider_failed"));
}

BOOST_AUTO_TEST_CASE(model_answer_in_recovery_becomes_the_summary) {
  temp_dir tmp;
  auto r = run_scenario(tmp, "recovery_summary_by_model.toml");
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 2);
  BOOST_CHECK_EQUAL(str(r.result, "status"), "limit_reached");
  BOOST_CHECK_EQUAL(str(r.result, "reason"), "max_turns");
  const std::string answer =
    "Echoed once; the turn budget ended the run before more work.";
  BOOST_CHECK_EQUAL(str(r.result, "summary"), answer);
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  check_journal_shape(evs);
  BOOST_CHECK_EQUAL(bodies_of<recovery>(evs).size(), 1u);
  auto& done = std::get<completion>(evs.back().body);
  BOOST_CHECK(done.status == run_status::limit_reached);
  BOOST_CHECK_EQUAL(done.summary, answer);
}

// -- repair and reminder turns -----------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_call_gets_a_repair_turn_then_completes) {
  temp_dir tmp;
  auto r = run_scenario(tmp, "repair.toml");
  auto evs = check_completed_run(r);
  BOOST_CHECK_EQUAL(r.result.value("parse_failures", -1), 1);
  BOOST_CHECK(has_turn_mode(evs, turn_mode::repair));
  BOOST_CHECK_EQUAL(bodies_of<parse_failure>(evs).size(), 1u);
  BOOST_CHECK(bodies_of<recovery>(evs).empty());
  auto turns = bodies_of<turn_start>(evs);
  BOOST_REQUIRE_EQUAL(turns.size(), 3u);
  BOOST_CHECK(turns[1].mode == turn_mode::repair);
}

BOOST_AUTO_TEST_CASE(text_only_reply_gets_a_reminder_turn) {
  temp_dir tmp;
  auto r = run_scenario(tmp, "reminder.toml");
  auto evs = check_completed_run(r);
  BOOST_CHECK_EQUAL(str(r.result, "answer"), "Hello!");
  auto turns = bodies_of<turn_start>(evs);
  BOOST_REQUIRE_EQUAL(turns.size(), 2u);
  BOOST_CHECK(turns[0].mode == turn_mode::normal);
  BOOST_CHECK(turns[1].mode == turn_mode::reminder);
}

BOOST_AUTO_TEST_CASE(valid_complete_after_a_rejected_complete_gets_its_result) {
  temp_dir tmp;
  auto r = run_scenario(tmp, "complete_after_rejected_complete.toml");
  auto evs = check_completed_run(r);
  BOOST_CHECK_EQUAL(str(r.result, "answer"), "Done on the second try.");
  BOOST_CHECK_EQUAL(bodies_of<parse_failure>(evs).size(), 1u);
  auto calls = bodies_of<tool_call>(evs);
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  auto results = bodies_of<tool_result>(evs);
  auto* res = result_for(results, calls[0].call_id);
  BOOST_CHECK_MESSAGE(res != nullptr, "the executed complete call "
                                        << calls[0].call_id << " has no tool_result");
}

// -- the example and the workspace --------------------------------------------

BOOST_AUTO_TEST_CASE(hello_example_completes_and_writes_its_workspace) {
  temp_dir tmp;
  auto src = fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "scenarios"
             / "hello.toml";
  auto path = copy_into(src, tmp.path, "hello.toml");
  auto r = troupe_run(path, (tmp.path / "journal.db").string());
  BOOST_TEST_INFO("stdout: " << r.cmd.out << "\nstderr: " << r.cmd.err);
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 0);
  BOOST_REQUIRE(r.result.is_object());
  BOOST_CHECK_EQUAL(str(r.result, "status"), "completed");
  auto ws = tmp.path / "work" / "hello";
  BOOST_CHECK_EQUAL(slurp(ws / "hello.txt"), "hello from troupe\n");
  BOOST_CHECK(fs::is_regular_file(ws / "notes" / "notes.md"));
  BOOST_CHECK(contains(slurp(ws / "notes" / "notes.md"), "wrote hello.txt"));
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  check_journal_shape(evs);
  for (auto& res : bodies_of<tool_result>(evs))
    BOOST_CHECK_MESSAGE(res.ok, res.name << ": " << res.output);
  auto start = bodies_of<run_start>(evs);
  BOOST_REQUIRE_EQUAL(start.size(), 1u);
  BOOST_CHECK_EQUAL(fs::path{start[0].workspace}, ws);
}

BOOST_AUTO_TEST_CASE(path_escapes_are_denied_and_a_write_outside_stops_the_run) {
  temp_dir tmp;
  auto passwd_before = slurp("/etc/passwd");
  auto r = run_scenario(tmp, "path_escape.toml");
  BOOST_TEST_INFO("stdout: " << r.cmd.out << "\nstderr: " << r.cmd.err);
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 1);
  BOOST_CHECK_EQUAL(str(r.result, "status"), "failed");
  BOOST_CHECK_EQUAL(str(r.result, "reason"), "out_of_scope");
  BOOST_CHECK(contains(str(r.result, "summary"), "framework_fix_needed"));
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  auto calls = bodies_of<tool_call>(evs);
  auto decisions = bodies_of<policy_decision>(evs);
  // The reads never became tool calls: the policy denied them first.
  for (auto& c : calls)
    BOOST_CHECK_MESSAGE(!contains(c.args_json, "passwd"), c.args_json);
  size_t denied = 0;
  for (auto& d : decisions)
    denied += to_string(d.decision) == "deny" ? 1 : 0;
  BOOST_CHECK_EQUAL(denied, 2u);
  // Every executed call had a policy decision before it.
  for (auto& c : calls) {
    bool decided = false;
    for (auto& d : decisions)
      decided = decided || (d.call_id == c.call_id && to_string(d.decision) == "allow");
    BOOST_CHECK_MESSAGE(decided, c.call_id << " ran without an allow");
  }
  bool memo = false;
  for (auto& e : bodies_of<error_event>(evs))
    memo = memo || (to_string(e.code) == "out_of_scope" && contains(e.message, "'../x'"));
  BOOST_CHECK_MESSAGE(memo, "no out_of_scope memo naming the write");
  BOOST_CHECK(std::holds_alternative<completion>(evs.back().body));
  auto ws = tmp.path / "work" / "escape";
  BOOST_CHECK_EQUAL(slurp(ws / "inside.txt"), "stayed inside");
  BOOST_CHECK(!fs::exists(tmp.path / "work" / "x"));
  BOOST_CHECK(slurp("/etc/passwd") == passwd_before);
  // Nothing but the workspace, the scenario and the journal in the temp dir.
  for (auto& entry : fs::directory_iterator(tmp.path)) {
    auto name = entry.path().filename().string();
    BOOST_CHECK_MESSAGE(name == "work" || name == "path_escape.toml"
                          || name.rfind("journal.db", 0) == 0,
                        "unexpected " << entry.path());
  }
  for (auto& entry : fs::directory_iterator(tmp.path / "work"))
    BOOST_CHECK_MESSAGE(entry.path().filename() == "escape",
                        "unexpected " << entry.path());
}

// -- --task and the journal views ---------------------------------------------

BOOST_AUTO_TEST_CASE(task_option_overrides_the_scenario_task) {
  temp_dir tmp;
  const std::string task = "A task from the command line, not the file.";
  auto r = run_scenario(tmp, "reminder.toml", {"--task", task});
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 0);
  auto evs = journal_of(r.db, str(r.result, "run_id"));
  auto start = bodies_of<run_start>(evs);
  BOOST_REQUIRE_EQUAL(start.size(), 1u);
  BOOST_CHECK_EQUAL(start[0].task, task);
}

BOOST_AUTO_TEST_CASE(export_and_doctor_agree_with_the_journal) {
  temp_dir tmp;
  auto r = run_scenario(tmp, "max_tool_calls.toml");
  auto run_id = str(r.result, "run_id");
  auto evs = journal_of(r.db, run_id);
  auto exp = troupe::test::run_command({TROUPE_BIN, "export", run_id, "--db", r.db});
  BOOST_TEST_INFO("stderr: " << exp.err);
  BOOST_CHECK_EQUAL(exp.exit_code, 0);
  auto lines = lines_of(exp.out);
  BOOST_REQUIRE_EQUAL(lines.size(), evs.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i], nullptr, false);
    BOOST_REQUIRE(j.is_object());
    BOOST_CHECK_EQUAL(str(j, "run_id"), run_id);
    BOOST_CHECK_EQUAL(j.value("seq", 0u), i + 1);
    BOOST_CHECK_EQUAL(str(j, "kind"), std::string(to_string(evs[i].kind())));
  }
  BOOST_CHECK_EQUAL(str(nlohmann::json::parse(lines.back()), "kind"), "completion");
  auto show = troupe::test::run_command({TROUPE_BIN, "show", run_id, "--db", r.db});
  BOOST_CHECK_EQUAL(show.exit_code, 0);
  BOOST_CHECK(contains(show.out, run_id));
  auto doctor = troupe::test::run_command({TROUPE_BIN, "doctor", "--db", r.db});
  BOOST_CHECK_MESSAGE(doctor.exit_code == 0, doctor.out << doctor.err);
}

// -- bad scenario files ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_scenarios_exit_64_with_one_positioned_line) {
  struct bad_file {
    const char* name;
    const char* position; ///< line:col the parser reports
    const char* words;    ///< part of the message
  };
  const bad_file files[] = {
    {"unknown_key.toml", "7:1", "unknown key 'max_turn'"},
    {"wrong_type.toml", "7:13", "is a string"},
    {"missing_agent.toml", "2:1", "missing key 'agent'"},
    {"unknown_tool.toml", "11:18", "launch_rockets"},
    {"unknown_model.toml", "10:9", "gpt-nonexistent"},
    {"syntax_error.toml", "7:14", "expected valid TOML"},
  };
  for (auto& f : files) {
    BOOST_TEST_CONTEXT(f.name) {
      temp_dir tmp;
      auto path = copy_scenario(tmp, std::string{"bad/"} + f.name);
      auto db = (tmp.path / "journal.db").string();
      auto r = troupe_run(path, db);
      BOOST_CHECK_EQUAL(r.cmd.exit_code, 64);
      BOOST_CHECK_EQUAL(r.cmd.out, "");
      auto lines = lines_of(r.cmd.err);
      BOOST_CHECK_MESSAGE(lines.size() == 1u, "stderr: " << r.cmd.err);
      BOOST_CHECK_MESSAGE(contains(r.cmd.err, path.string() + ":" + f.position + ": "),
                          "stderr: " << r.cmd.err);
      static const std::regex positioned{R"([A-Za-z_]+\.toml:[0-9]+:[0-9]+: )"};
      BOOST_CHECK(std::regex_search(r.cmd.err, positioned));
      BOOST_CHECK_MESSAGE(contains(r.cmd.err, f.words), "stderr: " << r.cmd.err);
      // Nothing journaled: `troupe run` opens (and so creates) the journal
      // before it loads the scenario, so accept an empty journal too.
      if (fs::exists(db)) {
        auto st = store::open(db, open_mode::read_only);
        BOOST_REQUIRE_MESSAGE(st, render(st));
        auto runs = st->list_runs();
        BOOST_REQUIRE_MESSAGE(runs, render(runs));
        BOOST_CHECK(runs->empty());
        auto events = st->events("");
        BOOST_REQUIRE_MESSAGE(events, render(events));
        BOOST_CHECK(events->empty());
      }
      BOOST_CHECK(!fs::exists(tmp.path / "bad" / "work"));
    }
  }
}

BOOST_AUTO_TEST_CASE(missing_scenario_file_exits_64) {
  temp_dir tmp;
  auto path = tmp.path / "no-such.toml";
  auto r = troupe_run(path, (tmp.path / "journal.db").string());
  BOOST_CHECK_EQUAL(r.cmd.exit_code, 64);
  BOOST_CHECK_EQUAL(lines_of(r.cmd.err).size(), 1u);
  BOOST_CHECK(contains(r.cmd.err, path.string()));
}

BOOST_AUTO_TEST_SUITE_END()
