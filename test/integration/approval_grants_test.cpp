// Grants come from the journal: a call approved after a restart gets what its
// journaled policy_decision granted, not what the policy file says by then.
// Needs root (the shell tool's sandbox), as CI has.

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
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

nlohmann::json wait_for_request(const std::string& db) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    auto r = run_command({TROUPE_BIN, "approvals", "--db", db, "--json"});
    if (r.exit_code == 0) {
      auto list = nlohmann::json::parse(r.out, nullptr, false);
      if (list.is_array() && !list.empty())
        return list[0];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_FAIL("no approval request appeared");
  return {};
}

std::vector<event> journal_of(const std::string& db, const std::string& run_id) {
  auto st = persistence::store::open(db, persistence::open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(st, render(st));
  auto rows = st->events(run_id);
  BOOST_REQUIRE(rows);
  std::vector<event> out;
  for (auto& row : *rows)
    out.push_back(*decode(row.bytes));
  return out;
}

void replace_in(const fs::path& file, const std::string& from, const std::string& to) {
  auto text = slurp(file);
  auto at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, from << " not in " << file);
  text.replace(at, from.size(), to);
  write_file(file, text);
}

} // namespace

BOOST_AUTO_TEST_SUITE(approvals)

BOOST_AUTO_TEST_CASE(a_resumed_call_gets_only_what_its_journaled_decision_granted) {
  temp_dir tmp{"troupe-grants"};
  auto db = (tmp.path / "journal.db").string();
  auto scenario = tmp.path / "approval_grants.toml";
  auto policy = tmp.path / "approval_grants_policy.toml";
  fs::copy_file(fs::path{TROUPE_SCENARIOS} / "approval_grants.toml", scenario);
  fs::copy_file(fs::path{TROUPE_SCENARIOS} / "approval_grants_policy.toml", policy);
  auto secrets = tmp.path / "secrets.env";
  write_file(secrets, "ALPHA_TOKEN=alpha-value-1\nBETA_TOKEN=beta-value-2\n");

  auto child = spawn_with_stdout({TROUPE_BIN, "run", scenario.string(), "--db", db,
                                  "--json", "--secrets-file", secrets.string()});
  BOOST_REQUIRE(child.pid > 0);
  auto req = wait_for_request(db);
  ::kill(child.pid, SIGKILL);
  std::string ignored;
  read_to_end(child, ignored);
  static_cast<void>(wait_for(child));

  // The operator widens the rule while the run is down.
  replace_in(policy, R"(secrets = ["ALPHA_TOKEN"])", R"(secrets = ["ALPHA_TOKEN", "BETA_TOKEN"])");
  auto run_id = req.at("run_id").get<std::string>();
  auto ok = run_command({TROUPE_BIN, "approve", run_id, req.at("call_id").get<std::string>(),
                         "--db", db});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  auto resumed = run_command({TROUPE_BIN, "resume", "--db", db, "--json",
                              "--secrets-file", secrets.string()});
  BOOST_TEST(resumed.exit_code == 0, resumed.err);
  auto runs = nlohmann::json::parse(resumed.out);
  BOOST_REQUIRE_EQUAL(runs.size(), 1u);
  BOOST_TEST(runs[0].at("status") == "completed");

  auto evs = journal_of(db, run_id);
  std::vector<policy_decision> decisions;
  std::string output;
  for (auto& ev : evs) {
    if (auto* d = std::get_if<policy_decision>(&ev.body))
      decisions.push_back(*d);
    if (auto* r = std::get_if<tool_result>(&ev.body); r && r->call_id == "print-env")
      output = r->output;
  }
  BOOST_REQUIRE(!decisions.empty());
  BOOST_TEST(decisions.front().grants.secrets == std::vector<std::string>{"ALPHA_TOKEN"});
  // ALPHA reached the command (and was redacted); BETA did not reach it.
  BOOST_TEST(contains(output, "alpha=[REDACTED:ALPHA_TOKEN] beta=\n"), output);
  BOOST_TEST(!contains(output, "beta-value-2"), output);
  BOOST_TEST(!contains(output, "REDACTED:BETA_TOKEN"), output);
}

BOOST_AUTO_TEST_SUITE_END()
