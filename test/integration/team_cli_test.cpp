// The SOP team example through the real `troupe`: the coder's gate fails once
// (its test in the sandbox), the coder gets the report as a fix turn and
// passes; the reviewer approves; every role run is a node of the team's tree
// with its phase, every artifact is recorded with its hash, and every node
// replays identical.

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
using troupe::test::lines_of;
using troupe::test::run_command;
using troupe::test::temp_dir;

namespace {

struct team_run {
  temp_dir tmp{"troupe-team"};
  std::string db = (tmp.path / "journal.db").string();
  json result;
  std::string team;

  team_run() {
    auto scenario = tmp.path / "ship_a_module.toml";
    fs::copy_file(fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "team"
                    / "ship_a_module.toml",
                  scenario);
    auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    result = json::parse(lines_of(r.out).back());
    team = result.at("run_id").get<std::string>();
  }

  std::vector<json> events(const std::string& run) const {
    auto r = run_command({TROUPE_BIN, "export", run, "--db", db});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    std::vector<json> out;
    for (auto& line : lines_of(r.out))
      out.push_back(json::parse(line));
    return out;
  }
};

size_t count_kind(const std::vector<json>& evs, const std::string& kind) {
  size_t n = 0;
  for (auto& e : evs)
    n += e.at("kind") == kind ? 1 : 0;
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(team_cli)

BOOST_FIXTURE_TEST_CASE(the_example_team_ships_after_one_fix_turn, team_run) {
  BOOST_TEST(result.at("status") == "completed", result.dump());
  auto tree = run_command({TROUPE_BIN, "tree", team, "--db", db, "--json"});
  BOOST_REQUIRE_EQUAL(tree.exit_code, 0);
  auto root = json::parse(tree.out);
  BOOST_TEST(root.at("phase") == "team");
  std::map<std::string, json> by_phase;
  for (auto& child : root.at("children"))
    by_phase[child.at("phase").get<std::string>() + "/" + child.at("role").get<std::string>()] =
      child;
  BOOST_REQUIRE_MESSAGE(by_phase.count("plan/planner") == 1, tree.out);
  BOOST_REQUIRE(by_phase.count("implement/coder") == 1);
  BOOST_REQUIRE(by_phase.count("review/reviewer") == 1);  // the review's work
  auto coder = by_phase["implement/coder"].at("run_id").get<std::string>();
  // The coder's first checks failed: a fix turn, then a pass.
  auto coder_events = events(coder);
  BOOST_TEST(count_kind(coder_events, "verification") == 2u);
  bool fix_turn = false;
  for (auto& e : coder_events)
    if (e.at("kind") == "turn_start" && e.at("turn_start").at("mode") == "fix")
      fix_turn = true;
  BOOST_TEST(fix_turn);
  BOOST_TEST(fs::exists(tmp.path / "work" / "team" / "greeting.py"));
  auto team_events = events(team);
  BOOST_TEST(count_kind(team_events, "phase_start") == 3u);
  BOOST_TEST(count_kind(team_events, "gate_pass") == 3u);
  BOOST_TEST(count_kind(team_events, "gate_fail") == 0u);
  // Artifacts across the tree, with hashes.
  auto arts = run_command({TROUPE_BIN, "artifacts", team, "--db", db, "--json"});
  BOOST_REQUIRE_EQUAL(arts.exit_code, 0);
  auto list = json::parse(arts.out);
  std::map<std::string, json> by_path;
  for (auto& a : list)
    by_path[a.at("path").get<std::string>()] = a;
  BOOST_REQUIRE_MESSAGE(by_path.count("greeting.py") == 1, arts.out);
  BOOST_TEST(by_path["greeting.py"].at("sha256").get<std::string>().size() == 64u);
  BOOST_TEST(by_path["greeting.py"].at("run_id") == coder);
  BOOST_TEST(by_path["greeting.py"].at("phase") == "implement");
  BOOST_TEST(by_path.count("plan.md") == 1u);
  auto text = run_command({TROUPE_BIN, "tree", team, "--db", db});
  BOOST_TEST(contains(text.out, "PHASE"), text.out);
  BOOST_TEST(contains(text.out, "implement"), text.out);
}

BOOST_FIXTURE_TEST_CASE(every_node_of_the_team_replays_identical, team_run) {
  auto r = run_command({TROUPE_BIN, "replay", team, "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(contains(r.out, "identical ("), r.out);
  auto doctor = run_command({TROUPE_BIN, "doctor", "--db", db});
  BOOST_TEST(doctor.exit_code == 0, doctor.out << doctor.err);
}

BOOST_AUTO_TEST_CASE(a_phase_naming_an_unknown_role_is_refused_with_its_place) {
  temp_dir tmp{"troupe-team-bad"};
  auto text = troupe::test::slurp(fs::path{TROUPE_SCENARIOS} / ".." / ".." / "examples" / "team"
                                  / "ship_a_module.toml");
  auto at = text.find(R"(role = "coder")");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 14, R"(role = "tester")");
  auto scenario = tmp.path / "bad.toml";
  troupe::test::write_file(scenario, text);
  auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", (tmp.path / "j.db").string()});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(contains(r.err, "names unknown agent 'tester'"), r.err);
  BOOST_TEST(contains(r.err, "bad.toml:"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
