#pragma once
// A journal with known content for the report and export tests: the test
// scenarios run through the real `troupe` (a team with three phases, a
// delegation tree three levels deep, a run stopped by parse failures, one
// stopped out of scope), and the runs table read back as the independent
// source of the figures.

#include <filesystem>
#include <map>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace troupe::test {

struct report_journal {
  temp_dir tmp{"troupe-report"};
  std::string db = (tmp.path / "journal.db").string();
  std::map<std::string, std::string> top; ///< scenario -> its top run id

  report_journal() {
    for (auto* name : {"team_ledger", "tree_appender", "parse_failures", "path_escape"}) {
      auto scenario = tmp.path / (std::string{name} + ".toml");
      std::filesystem::copy_file(std::filesystem::path{TROUPE_SCENARIOS} / (std::string{name} + ".toml"),
                                 scenario);
      auto r = run_command({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2,
                            name << ": " << r.out << r.err);
      top[name] = nlohmann::json::parse(lines_of(r.out).back()).at("run_id").get<std::string>();
    }
  }

  /// `troupe runs --json`: every run with its own KPIs.
  nlohmann::json runs() const {
    auto r = run_command({TROUPE_BIN, "runs", "--db", db, "--json"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    return nlohmann::json::parse(r.out);
  }

  std::string file(const std::string& name) const { return (tmp.path / name).string(); }
};

} // namespace troupe::test
