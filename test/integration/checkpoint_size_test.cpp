// A checkpoint records what changed, not the whole reply: one scripted reply
// with 1,000 tool calls writes 1,001 checkpoints, and with every checkpoint
// copying the reply's call list (the first snapshot format) they took 29 MB.
// Now a snapshot names the calls' statuses in runs (the reply has the calls),
// so the journal grows linearly with the calls, and the run replays
// identically, from run_start (every snapshot checked) and from its latest
// checkpoint.

#include <boost/test/unit_test.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;

namespace {

constexpr int calls_in_reply = 1000;

std::string scenario_with_one_big_reply() {
  std::string calls;
  for (int i = 0; i < calls_in_reply; ++i)
    calls += "  { name = \"echo\", args = { text = \"call number " + std::to_string(i)
             + "\" } },\n";
  return "[run]\nagent = \"lead\"\ntask = \"echo a lot\"\n\n"
         "[limits]\nmax_tool_calls = 5000\n\n"
         "[models.script]\nprovider = \"script\"\n\n"
         "[agents.lead]\nmodel = \"script\"\ntools = [\"echo\", \"complete\"]\n\n"
         "[[script.lead]]\ntool_calls = [\n" + calls + "]\n\n"
         "[[script.lead]]\ntool_calls = [ { name = \"complete\", args = { status = "
         "\"success\", answer = \"done\" } } ]\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(checkpoint_size)

BOOST_AUTO_TEST_CASE(a_reply_with_1000_calls_writes_linear_checkpoints) {
  test::temp_dir dir;
  auto scenario = dir.file("big.toml");
  auto db = dir.file("journal.db");
  test::write_file(scenario, scenario_with_one_big_reply());
  auto r = test::run_command({TROUPE_BIN, "run", scenario, "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto result = nlohmann::json::parse(r.out);
  std::string run_id = result["run_id"];
  BOOST_TEST(result["tool_calls"] == calls_in_reply + 1);

  size_t checkpoints = 0, checkpoint_bytes = 0, all_bytes = 0, largest = 0;
  for (auto& row : test::read_run(db, run_id)) {
    auto ev = decode(row.bytes);
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    all_bytes += row.bytes.size();
    if (std::holds_alternative<checkpoint>(ev->body)) {
      ++checkpoints;
      checkpoint_bytes += row.bytes.size();
      largest = std::max(largest, row.bytes.size());
    }
  }
  BOOST_TEST_MESSAGE("checkpoints: " << checkpoints << ", " << checkpoint_bytes
                                     << " bytes (largest " << largest
                                     << "); all events: " << all_bytes << " bytes");
  BOOST_TEST(checkpoints >= size_t{calls_in_reply});
  // Linear: each checkpoint is a few hundred bytes whatever the reply's size.
  BOOST_TEST(largest < 1024u);
  BOOST_TEST(checkpoint_bytes < 2'000'000u);

  r = test::run_command({TROUPE_BIN, "replay", run_id, "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("identical") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(std::to_string(checkpoints) + " snapshots checked") != std::string::npos,
             r.out);
  r = test::run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--from-checkpoint"});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("from the checkpoint at seq") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_SUITE_END()
