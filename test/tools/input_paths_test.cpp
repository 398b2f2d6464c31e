// Paths that name something other than a regular file (a device, a FIFO, a
// directory), and hostile input files, given to the commands that write or
// read them: one clear line, the documented exit code, nothing created, no
// hang and no crash.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "test/support/files.hpp"
#include "test/support/completing_scenario.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

using troupe::test::contains;
using troupe::test::lines_of;
using troupe::test::temp_dir;

namespace {

namespace fs = std::filesystem;

troupe::test::command_result troupe_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), TROUPE_BIN);
  return troupe::test::run_command(args);
}

void check_one_error_line(const troupe::test::command_result& r) {
  auto lines = lines_of(r.err);
  BOOST_TEST(lines.size() == 1u, "stderr: " << r.err);
  BOOST_TEST(r.err.rfind("troupe: ", 0) == 0u, "stderr: " << r.err);
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

const char* const scenario_text = troupe::test::completing_scenario_text;

/// A directory holding a scenario, a FIFO, a subdirectory and a symlink to
/// /dev/null: everything a --db or an input file could wrongly name.
struct odd_paths {
  temp_dir dir;
  std::string scenario = dir.file("ok.toml");
  std::string fifo = dir.file("fifo");
  std::string subdir = dir.file("subdir");
  std::string null_link = dir.file("null");
  std::string empty = dir.file("empty.jsonl");

  odd_paths() {
    troupe::test::write_file(scenario, scenario_text);
    troupe::test::write_file(empty, "");
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    fs::create_directory(subdir);
    fs::create_symlink("/dev/null", null_link);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(input_paths)

// Read commands already refused such a --db (65, "not a regular file"); the
// commands that create a journal created PATH-journal beside it instead.
BOOST_FIXTURE_TEST_CASE(writers_refuse_a_db_that_is_not_a_regular_file, odd_paths) {
  for (auto& db : {null_link, fifo, subdir}) {
    std::vector<std::vector<std::string>> commands{
      {"run", scenario, "--db", db},
      {"run", scenario, "--db", db, "--json"},
      {"resume", "--db", db},
      {"import", empty, "--db", db},
      {"approve", "r-1", "c-1", "--db", db},
      {"deny", "r-1", "c-1", "--db", db},
      {"approvals", "--db", db},
      {"runs", "--db", db}, // the read commands' refusal, for comparison
    };
    for (auto& args : commands) {
      BOOST_TEST_CONTEXT("troupe " << args[0] << " --db " << db) {
        auto before = listing(dir.path);
        auto r = troupe_cmd(args);
        BOOST_TEST(r.exit_code == 65);
        check_one_error_line(r);
        BOOST_TEST(contains(r.err, db + ": not a regular file"), r.err);
        BOOST_TEST(r.out.empty(), r.out);
        BOOST_TEST((listing(dir.path) == before), "files appeared in " << dir.path);
        BOOST_TEST(fs::is_empty(subdir));
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_secrets_file_must_be_a_regular_file, odd_paths) {
  for (auto& secrets : {subdir, fifo, null_link}) {
    for (auto cmd : {"run", "resume"}) {
      BOOST_TEST_CONTEXT("troupe " << cmd << " --secrets-file " << secrets) {
        auto db = dir.file("journal.db");
        std::vector<std::string> args{cmd};
        if (std::string(cmd) == "run")
          args.push_back(scenario);
        for (auto a : {"--db", db.c_str(), "--secrets-file", secrets.c_str()})
          args.push_back(a);
        auto r = troupe_cmd(args);
        BOOST_TEST(r.exit_code == 64);
        check_one_error_line(r);
        BOOST_TEST(contains(r.err, secrets + ": cannot read the secrets file"), r.err);
        BOOST_TEST(r.out.empty(), r.out);
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_scenario_or_policy_that_is_not_a_regular_file_exits_64,
                        odd_paths) {
  for (auto& file : {fifo, subdir, null_link}) {
    for (std::vector<std::string> args : {std::vector<std::string>{"run", file, "--db", "x.db"},
                                          {"policy", "validate", file}}) {
      BOOST_TEST_CONTEXT("troupe " << args[0] << " " << file) {
        if (args[0] == "run")
          args[3] = dir.file("x.db");
        auto r = troupe_cmd(args);
        BOOST_TEST(r.exit_code == 64);
        check_one_error_line(r);
        BOOST_TEST(contains(r.err, file + ": cannot read the"), r.err);
        BOOST_TEST(!fs::exists(dir.file("x.db")));
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(a_workspace_root_with_a_nul_exits_64, odd_paths) {
  auto file = dir.file("nul.toml");
  troupe::test::write_file(file, std::string(scenario_text)
                                   + "\n[workspace]\nroot = \"work\\u0000/elsewhere\"\n");
  auto db = dir.file("journal.db");
  auto r = troupe_cmd({"run", file, "--db", db});
  BOOST_TEST(r.exit_code == 64);
  check_one_error_line(r);
  BOOST_TEST(contains(r.err, file + ":"), r.err);
  BOOST_TEST(contains(r.err, "NUL"), r.err);
  BOOST_TEST(!fs::exists(db));
  BOOST_TEST(!fs::exists(dir.file("work")));
}

// toml++ recursed once per level of a [header] or dotted key and overflowed
// its stack (SIGSEGV) at about 50,000 levels.
BOOST_FIXTURE_TEST_CASE(deeply_nested_toml_exits_64_naming_the_limit, odd_paths) {
  std::string dots;
  for (int i = 0; i < 50000; ++i)
    dots += i ? ".a" : "a";
  std::vector<std::pair<const char*, std::string>> shapes{
    {"header", "[" + dots + "]\nx = 1\n"},
    {"dotted key", dots + " = 1\n"},
    {"inline tables", "x = " + repeat("{a=", 50000) + "1" + std::string(50000, '}') + "\n"},
    {"arrays", "x = " + std::string(50000, '[') + "1" + std::string(50000, ']') + "\n"},
  };
  auto file = dir.file("deep.toml");
  auto db = dir.file("journal.db");
  for (auto& [shape, text] : shapes) {
    troupe::test::write_file(file, text);
    for (std::vector<std::string> args : {std::vector<std::string>{"run", file, "--db", db},
                                          {"policy", "validate", file}}) {
      BOOST_TEST_CONTEXT(shape << ": troupe " << args[0]) {
        auto r = troupe_cmd(args);
        BOOST_TEST(r.exit_code == 64);
        check_one_error_line(r);
        BOOST_TEST(contains(r.err, file + ":1:"), r.err);
        BOOST_TEST(contains(r.err, "more than 64 levels"), r.err);
        BOOST_TEST(!fs::exists(db));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
