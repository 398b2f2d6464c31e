// Delegation through the real `troupe`: the example lead delegates to two
// specialists at once; the children are runs of their own, linked to their
// parent in the journal, and every node shows, exports and replays alone.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "test/support/files.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using troupe::test::contains;
using troupe::test::run_command;
using troupe::test::temp_dir;

namespace {

fs::path example(const char* name) {
  return fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "delegation" / name;
}

struct team_journal {
  temp_dir tmp{"troupe-delegation"};
  std::string db = (tmp.path / "journal.db").string();
  fs::path scenario = tmp.path / "lead_and_specialists.toml";
  json result;

  team_journal() {
    fs::copy_file(example("lead_and_specialists.toml"), scenario);
    auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    auto lines = troupe::test::lines_of(r.out);
    BOOST_REQUIRE(!lines.empty());
    result = json::parse(lines.back());
  }

  std::map<std::string, json> runs() const {
    auto r = run_command({TROUPE_BIN, "runs", "--db", db, "--json"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    std::map<std::string, json> out;
    for (auto& run : json::parse(r.out))
      out[run.at("run_id").get<std::string>()] = run;
    return out;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(delegation_cli)

BOOST_FIXTURE_TEST_CASE(the_lead_gets_both_answers_and_the_children_are_runs_of_their_own,
                        team_journal) {
  BOOST_TEST(result.at("status") == "completed");
  auto lead = result.at("run_id").get<std::string>();
  auto all = runs();
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  for (auto* child : {".1", ".2"}) {
    auto id = lead + child;
    BOOST_REQUIRE_MESSAGE(all.count(id) == 1, "no run " << id);
    BOOST_TEST(all[id].at("status") == "completed");
  }
  BOOST_TEST(all[lead + ".1"].at("agent") == "coder");
  BOOST_TEST(all[lead + ".2"].at("agent") == "reviewer");
  // The coder's file is in the shared workspace.
  BOOST_TEST(fs::exists(tmp.path / "work" / "delegation" / "greeting.py"));
  // The lead's KPIs count its subtree.
  auto show = run_command({TROUPE_BIN, "show", lead, "--db", db, "--json"});
  BOOST_REQUIRE_EQUAL(show.exit_code, 0);
  auto lead_export = run_command({TROUPE_BIN, "export", lead, "--db", db});
  BOOST_REQUIRE_EQUAL(lead_export.exit_code, 0);
  std::map<std::string, int> kinds;
  json completion;
  for (auto& line : troupe::test::lines_of(lead_export.out)) {
    auto ev = json::parse(line);
    for (auto& [key, value] : ev.items())
      if (value.is_object())
        ++kinds[key];
    if (ev.contains("completion"))
      completion = ev.at("completion");
  }
  BOOST_TEST(kinds["delegation"] == 2);
  BOOST_TEST(kinds["delegation_result"] == 2);
  BOOST_TEST(completion.at("kpis").at("descendant_runs") == 2);
  BOOST_TEST(completion.at("kpis").at("descendant_turns") == 4);
  // The reviewer asked for 3 turns and got them; the coder an even share.
  auto child_export = run_command({TROUPE_BIN, "export", lead + ".2", "--db", db});
  BOOST_REQUIRE_EQUAL(child_export.exit_code, 0);
  auto first = json::parse(troupe::test::lines_of(child_export.out).front());
  BOOST_TEST(first.at("parent_run_id") == lead);
  BOOST_TEST(first.at("run_start").at("limits").at("max_turns") == 3);
  BOOST_TEST(first.at("run_start").at("depth") == 1);
}

BOOST_FIXTURE_TEST_CASE(every_node_replays_identical, team_journal) {
  for (auto& [id, run] : runs()) {
    auto r = run_command({TROUPE_BIN, "replay", id, "--db", db});
    BOOST_TEST(r.exit_code == 0, id << ": " << r.out << r.err);
    auto tail = run_command({TROUPE_BIN, "replay", id, "--db", db, "--from-checkpoint"});
    BOOST_TEST(tail.exit_code == 0, id << ": " << tail.out << tail.err);
  }
  auto doctor = run_command({TROUPE_BIN, "doctor", "--db", db});
  BOOST_TEST(doctor.exit_code == 0, doctor.out << doctor.err);
}

BOOST_AUTO_TEST_CASE(a_delegation_graph_naming_an_unknown_agent_is_refused_with_its_place) {
  temp_dir tmp{"troupe-delegation-bad"};
  auto text = troupe::test::slurp(example("lead_and_specialists.toml"));
  auto at = text.find(R"(delegates = ["coder", "reviewer"])");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 33, R"(delegates = ["coder", "tester"])");
  auto scenario = tmp.path / "bad.toml";
  troupe::test::write_file(scenario, text);
  auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db",
                        (tmp.path / "j.db").string()});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, "'delegates' of [agents.lead] names unknown agent 'tester'"), r.err);
  BOOST_TEST(contains(r.err, "bad.toml:"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
