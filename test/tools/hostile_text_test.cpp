// Journal text that is not UTF-8 (a damaged or hand-made journal can hold any
// bytes) must not abort a command: every --json output stays valid JSON.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/approval_store.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/completing_scenario.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

using namespace troupe;
using troupe::test::lines_of;
using troupe::test::temp_dir;

namespace {

// Invalid UTF-8: a lone continuation byte, a byte that never occurs, and a
// truncated sequence.
const std::string bad_id = "run-\x80\xff-\xe2\x82";
const std::string bad_text = "caf\xc3 \xfe out";
const std::string good_id = "r-text";

test::command_result troupe_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), TROUPE_BIN);
  return test::run_command(args);
}

const char* const scenario_text = troupe::test::completing_scenario_text;

event at(const std::string& run, uint32_t seq, event_body body) {
  return test::make_event(run, seq, std::move(body), test::base_ts_us + seq * 1000);
}

// bad_id: started, never finished (so resume continues it). good_id: a
// finished run whose tool name, outputs, reasons and answer are not UTF-8.
void write_journal(const std::string& db, const std::string& scenario) {
  auto store = persistence::store::open(db, persistence::open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(store, render(store));
  run_start start;
  start.agent = "lead";
  start.model = "script";
  start.task = bad_text;
  start.tools = {"echo", "complete"};
  start.scenario = scenario;
  std::vector<persistence::sealed_event> batch;
  batch.push_back(test::seal(at(bad_id, 1, start)));
  auto tool = "echo" + bad_text;
  std::vector<event_body> bodies{
    start,
    turn_start{1, turn_mode::normal},
    model_request{1, "script", {"echo"}, 2},
    model_reply{1, bad_text, {{"c1\xff", tool, R"({"text":"hi"})"}}, {1, 1}, "", 42},
    policy_decision{"c1\xff", decision_kind::deny, "rule\xff", "v1", bad_text},
    tool_result{"c1\xff", tool, false, bad_text},
    turn_end{1},
    completion{run_status::failed, bad_text, bad_text, bad_text, {}},
  };
  for (uint32_t seq = 1; seq <= bodies.size(); ++seq)
    batch.push_back(test::seal(at(good_id, seq, bodies[seq - 1])));
  auto err = store->append(batch);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
}

void add_pending_approval(const std::string& db) {
  auto approvals = persistence::approval_store::open(db);
  BOOST_REQUIRE_MESSAGE(approvals, render(approvals));
  persistence::approval_row row;
  row.run_id = good_id;
  row.call_id = "c2\xff";
  row.tool = "echo" + bad_text;
  row.args_json = R"({"text":")" + bad_text + R"("})";
  row.rule = "ask\xff";
  row.requested_us = test::base_ts_us;
  row.deadline_us = test::base_ts_us + 3'600'000'000'000;
  auto added = approvals->request(row);
  BOOST_REQUIRE_MESSAGE(added, render(added));
}

// Every non-empty line of `out` parses as JSON (nlohmann's parser refuses
// invalid UTF-8 in strings).
void check_json_lines(const std::string& out) {
  auto lines = lines_of(out);
  BOOST_TEST(!lines.empty(), "no output");
  for (auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST(!j.is_discarded(), "not JSON: " << line);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_text)

BOOST_AUTO_TEST_CASE(json_output_survives_text_that_is_not_utf8) {
  temp_dir dir;
  auto db = dir.file("journal-\xff.db");
  auto scenario = dir.file("finish.toml");
  test::write_file(scenario, scenario_text);
  write_journal(db, scenario);
  add_pending_approval(db);
  struct expectation {
    std::vector<std::string> args;
    int exit_code;
  };
  std::vector<expectation> commands{
    {{"runs", "--json"}, 0},
    {{"show", good_id, "--json"}, 0},
    {{"show", bad_id, "--json"}, 0},
    {{"export", good_id}, 0},
    {{"export", bad_id}, 0},
    {{"doctor", "--json"}, 0},
    {{"approvals", "--json"}, 0},
    {{"replay", good_id, "--json"}, 1}, // the deny diverges from the default policy
    {{"replay", bad_id, "--json"}, 0},
    {{"diff", good_id, bad_id, "--json"}, 1},
    {{"resume", "--json"}, 0},
    {{"show", bad_id, "--json"}, 0}, // now finished by resume
    {{"--log-format", "json", "--log-level", "debug", "runs"}, 0},
  };
  for (auto& c : commands) {
    auto args = c.args;
    args.push_back("--db");
    args.push_back(db);
    BOOST_TEST_CONTEXT("troupe " << args[0] << " " << args[1]) {
      auto r = troupe_cmd(args);
      BOOST_TEST(r.exit_code == c.exit_code, r.err);
      if (args[0] == "--log-format")
        check_json_lines(r.err);
      else
        check_json_lines(r.out);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
