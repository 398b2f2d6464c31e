// A journal written by troupe at schema version 7 (test/fixtures/journal-v7.sql,
// made by the build before version 8 from the example and test scenarios)
// migrates, checks clean, exports byte for byte as that build exported it
// (test/fixtures/journal-v7.export.jsonl: every run's export, in `troupe
// runs` order) and replays identical.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test/support/files.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"

#ifndef TROUPE_BIN
#  error "TROUPE_BIN must name the troupe executable"
#endif
#ifndef TROUPE_FIXTURES
#  error "TROUPE_FIXTURES must name test/fixtures"
#endif

using troupe::test::command_result;
using troupe::test::slurp;
using troupe::test::temp_dir;

namespace {

command_result troupe_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), TROUPE_BIN);
  return troupe::test::run_command(args);
}

std::vector<std::string> run_ids(const std::string& db) {
  auto r = troupe_cmd({"runs", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> out;
  auto parsed = nlohmann::json::parse(r.out);
  auto& runs = parsed.is_array() ? parsed : parsed.at("runs");
  for (auto& run : runs)
    out.push_back(run.at("run_id").get<std::string>());
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(journal_v7_fixture)

BOOST_AUTO_TEST_CASE(version_7_journal_migrates_exports_identically_and_replays) {
  temp_dir dir;
  auto db = dir.file("journal.db");
  // Kept as SQL text (sqlite3's .dump and the two pragmas): the file is
  // built here, byte for byte the rows that troupe wrote.
  troupe::test::raw_db{db}.exec(slurp(std::string(TROUPE_FIXTURES) + "/journal-v7.sql"));
  auto refused = troupe_cmd({"runs", "--db", db});
  BOOST_TEST(refused.exit_code != 0);
  BOOST_TEST(refused.err.find("troupe migrate") != std::string::npos, refused.err);

  auto migrated = troupe_cmd({"migrate", "--db", db});
  BOOST_REQUIRE_MESSAGE(migrated.exit_code == 0, migrated.err);
  BOOST_TEST(migrated.out.find("from schema version 7 to 8") != std::string::npos,
             migrated.out);
  BOOST_TEST(migrated.err.find("rewriting events:") != std::string::npos, migrated.err);

  auto doctor = troupe_cmd({"doctor", "--db", db});
  BOOST_TEST(doctor.exit_code == 0, doctor.out << doctor.err);
  BOOST_TEST(doctor.out.find("clean") != std::string::npos, doctor.out);

  auto ids = run_ids(db);
  BOOST_TEST(ids.size() >= 4u);
  std::string exported;
  for (auto& id : ids) {
    auto r = troupe_cmd({"export", id, "--db", db});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, id << ": " << r.err);
    exported += r.out;
    auto replay = troupe_cmd({"replay", id, "--db", db});
    BOOST_TEST(replay.exit_code == 0, id << ": " << replay.out << replay.err);
    BOOST_TEST(replay.out.find("identical") != std::string::npos, id << ": " << replay.out);
  }
  auto expected = slurp(std::string(TROUPE_FIXTURES) + "/journal-v7.export.jsonl");
  BOOST_TEST((exported == expected), "the export after migration differs from version 7's");
}

BOOST_AUTO_TEST_SUITE_END()
