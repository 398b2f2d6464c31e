// `troupe run` with file tools pointed at a FIFO (issue 14, item 3): the
// run must end, with every refusal shown to the model, instead of hanging
// in open(2) forever. The child gets a bounded time; a hang is a failure,
// not a stuck test.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
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

namespace fs = std::filesystem;
using namespace troupe;
using troupe::test::contains;
using troupe::test::lines_of;

BOOST_AUTO_TEST_SUITE(file_tools_cli)

BOOST_AUTO_TEST_CASE(file_tools_on_a_fifo_are_refused_and_the_run_ends) {
  troupe::test::temp_dir tmp;
  auto scenario = tmp.path / "fifo_append.toml";
  fs::copy_file(fs::path{TROUPE_SCENARIOS} / "fifo_append.toml", scenario);
  auto ws = tmp.path / "work" / "fifo";
  fs::create_directories(ws);
  BOOST_REQUIRE(::mkfifo((ws / "pipe").c_str(), 0644) == 0);
  auto db = (tmp.path / "journal.db").string();
  auto child = troupe::test::spawn_with_stdout(
    {TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
  BOOST_REQUIRE(child.pid > 0);
  std::string out;
  troupe::test::read_until(child, std::chrono::steady_clock::now() + std::chrono::seconds{30},
                           out);
  bool hung = child.out_fd >= 0; // no EOF: still running
  if (hung)
    ::kill(child.pid, SIGKILL);
  int code = troupe::test::wait_for(child);
  if (child.out_fd >= 0)
    ::close(child.out_fd);
  BOOST_REQUIRE_MESSAGE(!hung, "troupe run still ran after 30 s; stdout: " << out);
  BOOST_TEST(code == 0, "stdout: " << out);
  auto lines = lines_of(out);
  BOOST_REQUIRE(!lines.empty());
  auto result = nlohmann::json::parse(lines.back(), nullptr, false);
  BOOST_REQUIRE(result.is_object());
  BOOST_TEST(result.value("status", "") == "completed");
  std::vector<tool_result> results;
  for (auto& row : troupe::test::read_run(db, result.value("run_id", ""))) {
    auto ev = decode(row.bytes, "seq " + std::to_string(row.seq));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    if (auto* r = std::get_if<tool_result>(&ev->body); r && r->name != "complete")
      results.push_back(*r);
  }
  BOOST_REQUIRE_EQUAL(results.size(), 4u);
  for (auto& r : results) {
    BOOST_TEST(!r.ok, r.name << ": " << r.output);
    BOOST_TEST(contains(r.output, r.name + ": 'pipe' is a FIFO"), r.output);
  }
  BOOST_TEST(fs::is_fifo(ws / "pipe"));
}

BOOST_AUTO_TEST_SUITE_END()
