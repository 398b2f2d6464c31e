// Human approvals end to end: decided from a second process, denied, timing
// out closed, and surviving a kill -9 of the process that asked.

#define BOOST_TEST_MODULE approvals
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using namespace troupe;
using namespace troupe::test;

namespace {

struct approval_run {
  temp_dir tmp{"troupe-approvals"};
  std::string db = (tmp.path / "journal.db").string();
  fs::path scenario;
  child_process child;

  explicit approval_run(const std::string& name) {
    scenario = tmp.path / name;
    fs::copy_file(fs::path{TROUPE_SCENARIOS} / name, scenario);
    child = spawn_with_stdout({TROUPE_BIN, "run", scenario.string(), "--db", db, "--json"});
    BOOST_REQUIRE(child.pid > 0);
  }

  /// Polls `troupe approvals --json` until one request is pending.
  nlohmann::json wait_for_request() {
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

  /// Waits for `troupe run` and returns its JSON result line.
  nlohmann::json finish() {
    std::string out;
    read_to_end(child, out);
    auto code = wait_for(child);
    auto lines = lines_of(out);
    BOOST_REQUIRE_MESSAGE(!lines.empty(), "no output, exit " << code);
    auto result = nlohmann::json::parse(lines.back());
    result["exit_code"] = code;
    return result;
  }

  std::vector<event> journal(const std::string& run_id) {
    auto st = persistence::store::open(db, persistence::open_mode::read_only);
    BOOST_REQUIRE_MESSAGE(st, render(st));
    auto rows = st->events(run_id);
    BOOST_REQUIRE(rows);
    std::vector<event> out;
    for (auto& row : *rows)
      out.push_back(*decode(row.bytes));
    return out;
  }

  fs::path written() const { return tmp.path / "work" / "approval" / "approved.txt"; }
};

template <class T>
std::vector<T> bodies(const std::vector<event>& evs) {
  std::vector<T> out;
  for (auto& ev : evs)
    if (auto* x = std::get_if<T>(&ev.body))
      out.push_back(*x);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(approvals)

// Resume verifies what it folds: one flipped byte in run_start (its CRC
// then fails) made it continue under an altered id before; now the run is
// refused, naming run and seq, and the journal is left as it was.
BOOST_AUTO_TEST_CASE(resume_refuses_a_damaged_run_and_names_it) {
  approval_run r("approval.toml");
  auto req = r.wait_for_request();
  ::kill(r.child.pid, SIGKILL);
  std::string ignored;
  read_to_end(r.child, ignored);
  static_cast<void>(wait_for(r.child));
  auto run_id = req.at("run_id").get<std::string>();
  {
    raw_db raw(r.db);
    auto body = raw.body(run_id, 1);
    body[body.size() / 2] ^= 0x20;
    raw.set_body(run_id, 1, body, false);
  }
  auto res = run_command({TROUPE_BIN, "resume", "--db", r.db});
  BOOST_TEST(res.exit_code != 0);
  BOOST_TEST(res.err.find("run " + run_id + " seq 1 is damaged") != std::string::npos,
             res.err);
  raw_db raw(r.db);
  BOOST_TEST(raw.scalar("SELECT count(*) FROM runs") == 1);
  BOOST_TEST(raw.scalar("SELECT count(*) FROM runs WHERE status = 'running'") == 1);
}

// deadline_ms and approval_timeout_ms at 2^63-1 ms: before saturating time
// arithmetic the run ended at once (`deadline`) and the ask was denied by an
// overflowed actor timeout while the approvals table still said pending.
BOOST_AUTO_TEST_CASE(limits_at_their_maximum_wait_for_the_approval) {
  approval_run r("approval_max_limits.toml");
  auto req = r.wait_for_request();
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // no early denial
  auto ok = run_command({TROUPE_BIN, "approve", req.at("run_id").get<std::string>(),
                         req.at("call_id").get<std::string>(), "--db", r.db});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  auto result = r.finish();
  BOOST_TEST(result.at("exit_code") == 0);
  BOOST_TEST(result.at("status") == "completed");
  BOOST_TEST(slurp(r.written()) == "approved");
  auto decisions = bodies<approval_decision>(r.journal(result.at("run_id")));
  BOOST_REQUIRE_EQUAL(decisions.size(), 1u);
  BOOST_TEST(decisions[0].approved);
}

BOOST_AUTO_TEST_CASE(approved_from_another_process_the_call_runs) {
  approval_run r("approval.toml");
  auto req = r.wait_for_request();
  BOOST_TEST(req.at("tool") == "write_file");
  BOOST_TEST(req.at("rule") == "ask-before-writing");
  BOOST_TEST(!fs::exists(r.written())); // nothing ran while it waited
  auto ok = run_command({TROUPE_BIN, "approve", req.at("run_id").get<std::string>(),
                         req.at("call_id").get<std::string>(), "--db", r.db, "--by", "alice"});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  auto result = r.finish();
  BOOST_TEST(result.at("exit_code") == 0);
  BOOST_TEST(result.at("status") == "completed");
  BOOST_TEST(slurp(r.written()) == "approved");
  auto evs = r.journal(result.at("run_id"));
  auto decisions = bodies<approval_decision>(evs);
  BOOST_REQUIRE_EQUAL(decisions.size(), 1u);
  BOOST_TEST(decisions[0].approved);
  BOOST_TEST(decisions[0].by == "alice");
  BOOST_TEST(to_string(bodies<policy_decision>(evs)[0].decision) == "ask");
  auto again = run_command({TROUPE_BIN, "deny", req.at("run_id").get<std::string>(),
                            req.at("call_id").get<std::string>(), "--db", r.db});
  BOOST_TEST(again.exit_code == 1);
  BOOST_TEST(contains(again.err, "already decided"), again.err);
}

BOOST_AUTO_TEST_CASE(denied_the_call_never_runs_and_the_model_is_told) {
  approval_run r("approval.toml");
  auto req = r.wait_for_request();
  auto no = run_command({TROUPE_BIN, "deny", req.at("run_id").get<std::string>(),
                         req.at("call_id").get<std::string>(), "--db", r.db,
                         "--reason", "not today"});
  BOOST_TEST(no.exit_code == 0, no.err);
  auto result = r.finish();
  BOOST_TEST(result.at("status") == "completed");
  BOOST_TEST(!fs::exists(r.written()));
  auto evs = r.journal(result.at("run_id"));
  BOOST_TEST(bodies<tool_call>(evs).size() == 1u); // only `complete`
  BOOST_TEST(bodies<completion>(evs).back().totals.denials == 1u);
}

BOOST_AUTO_TEST_CASE(nobody_decides_and_the_deadline_denies) {
  approval_run r("approval_timeout.toml");
  auto result = r.finish();
  BOOST_TEST(result.at("status") == "completed");
  BOOST_TEST(!fs::exists(r.written()));
  auto evs = r.journal(result.at("run_id"));
  auto decisions = bodies<approval_decision>(evs);
  BOOST_REQUIRE_EQUAL(decisions.size(), 1u);
  BOOST_TEST(!decisions[0].approved);
  BOOST_TEST(decisions[0].by == "timeout");
  auto pending = run_command({TROUPE_BIN, "approvals", "--db", r.db, "--json"});
  BOOST_TEST(nlohmann::json::parse(pending.out).empty());
}

BOOST_AUTO_TEST_CASE(a_pending_request_survives_a_crash_and_is_honoured_on_resume) {
  approval_run r("approval.toml");
  auto req = r.wait_for_request();
  ::kill(r.child.pid, SIGKILL);
  std::string ignored;
  read_to_end(r.child, ignored);
  wait_for(r.child);
  auto still = run_command({TROUPE_BIN, "approvals", "--db", r.db, "--json"});
  BOOST_REQUIRE_EQUAL(nlohmann::json::parse(still.out).size(), 1u);
  auto ok = run_command({TROUPE_BIN, "approve", req.at("run_id").get<std::string>(),
                         req.at("call_id").get<std::string>(), "--db", r.db});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  auto resumed = run_command({TROUPE_BIN, "resume", "--db", r.db, "--json"});
  BOOST_TEST(resumed.exit_code == 0, resumed.err);
  auto runs = nlohmann::json::parse(resumed.out);
  BOOST_REQUIRE_EQUAL(runs.size(), 1u);
  BOOST_TEST(runs[0].at("status") == "completed");
  BOOST_TEST(slurp(r.written()) == "approved");
}

BOOST_AUTO_TEST_SUITE_END()
