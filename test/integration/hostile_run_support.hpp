#pragma once
// The hostile suite at the scenario level: scripted agents try each attack
// through the real `troupe run` (scenarios in test/scenarios/hostile/, copied
// into a fresh temp dir with their placeholders filled in), and each case
// checks that the attack was contained (on the host, and in the tool result
// the model saw), that it was journaled (every executed call after a policy
// `allow` for the same call id), and that the run still ended by the
// completion contract: exit code 0/1/2 with a JSON result line, and a
// `completion` event last.
//
// The sandbox itself is tested command by command in
// test/sandbox/hostile_test.cpp; this suite checks that the runtime wires it
// up (policy, secrets, limits, redaction) the same way for a run. Needs root
// (namespaces), as CI has.
//
// This header is the suite's fixture: one scenario installed in a temp dir,
// one `troupe run` of it, and the checks every case makes on the journal.
// The cases are in hostile_containment_test.cpp and hostile_secrets_test.cpp.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "test/support/files.hpp"
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

namespace troupe::test::hostile {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

// -- small helpers ------------------------------------------------------------

inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

/// A string unique to this test process and call: `<prefix><pid>x<hex>`.
inline std::string unique(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return prefix + std::to_string(::getpid()) + "x" + hex;
}

inline std::string str(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

inline double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

// -- one scenario, one run ---------------------------------------------------

/// A temp dir holding one hostile scenario (with its placeholders filled in),
/// its workspace `work/` and the journal.
struct hostile_dir {
  temp_dir tmp{"troupe-hostile"};

  fs::path workspace() const { return tmp.path / "work"; }
  std::string db() const { return tmp.file("journal.db"); }

  /// Copies test/scenarios/hostile/<name> here, replacing each key of `subs`
  /// by its value, and creates the workspace.
  fs::path install(const std::string& name,
                   const std::map<std::string, std::string>& subs = {}) {
    auto text = slurp(fs::path{TROUPE_SCENARIOS} / "hostile" / name);
    BOOST_REQUIRE_MESSAGE(!text.empty(), "cannot read hostile/" << name);
    for (auto& [key, value] : subs)
      text = replace_all(text, key, value);
    static const std::regex placeholder{"@[A-Z]+@"};
    std::smatch m;
    std::string left = std::regex_search(text, m, placeholder) ? m.str() : std::string{};
    BOOST_REQUIRE_MESSAGE(left.empty(), name << ": placeholder " << left << " not filled in");
    auto path = tmp.path / name;
    write_file(path, text);
    fs::create_directories(workspace());
    return path;
  }
};

/// One `troupe run --json` and what it left behind.
struct cli_run {
  command_result cmd;
  nlohmann::json result; ///< the last stdout line (null if it did not parse)
  std::string db;
  double seconds = 0;
  std::vector<event> events; ///< the run's journal, decoded
};

inline std::vector<event> journal_of(const std::string& db, const std::string& run_id) {
  std::vector<event> out;
  for (auto& row : troupe::test::read_run(db, run_id)) {
    auto ev = decode(row.bytes, "run " + row.run_id + " seq " + std::to_string(row.seq));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    out.push_back(std::move(*ev));
  }
  return out;
}

/// `troupe [globals] run SCENARIO --db DB --json [extra]`.
inline cli_run troupe_run(const fs::path& scenario, const std::string& db,
                          const std::vector<std::string>& extra = {},
                          const std::vector<std::string>& globals = {}) {
  std::vector<std::string> argv{TROUPE_BIN};
  argv.insert(argv.end(), globals.begin(), globals.end());
  for (const auto& a : {std::string{"run"}, scenario.string(), std::string{"--db"}, db,
                        std::string{"--json"}})
    argv.push_back(a);
  argv.insert(argv.end(), extra.begin(), extra.end());
  cli_run r;
  r.db = db;
  auto t0 = steady::now();
  r.cmd = troupe::test::run_command(argv);
  r.seconds = seconds_since(t0);
  BOOST_TEST_MESSAGE(scenario.filename().string() << ": troupe run took " << r.seconds
                                                  << " s, exit " << r.cmd.exit_code);
  auto lines = lines_of(r.cmd.out);
  if (!lines.empty())
    r.result = nlohmann::json::parse(lines.back(), nullptr, false);
  if (r.result.is_discarded())
    r.result = nullptr;
  if (r.result.is_object() && !str(r.result, "run_id").empty())
    r.events = journal_of(db, str(r.result, "run_id"));
  return r;
}

template <class T>
std::vector<std::pair<size_t, T>> indexed(const std::vector<event>& evs) {
  std::vector<std::pair<size_t, T>> out;
  for (size_t i = 0; i < evs.size(); ++i)
    if (auto* x = std::get_if<T>(&evs[i].body))
      out.emplace_back(i, *x);
  return out;
}

template <class T>
std::vector<T> bodies_of(const std::vector<event>& evs) {
  std::vector<T> out;
  for (auto& [i, x] : indexed<T>(evs))
    out.push_back(x);
  return out;
}

inline int exit_code_for(run_status s) {
  switch (s) {
    case run_status::completed:
      return 0;
    case run_status::limit_reached:
      return 2;
    default:
      return 1;
  }
}

/// The completion contract and the governance invariants of one run:
/// - exit code 0/1/2 matching `expected`, a JSON result line that agrees;
/// - seq contiguous from 1, `run_start` first, exactly one `completion`,
///   and it is the last event;
/// - every executed `tool_call` has an earlier `policy_decision` allowing
///   the same call id, and exactly one `tool_result` after it;
/// - no denied call id ever became a `tool_call`;
/// - `troupe doctor` finds the journal intact.
inline void check_contract(const cli_run& r, run_status expected) {
  BOOST_TEST_INFO("stdout: " << r.cmd.out.substr(0, 2000)
                             << "\nstderr: " << r.cmd.err.substr(0, 2000));
  BOOST_REQUIRE(r.result.is_object());
  BOOST_TEST(r.cmd.exit_code == exit_code_for(expected));
  BOOST_TEST(str(r.result, "status") == std::string(to_string(expected)));
  auto& evs = r.events;
  BOOST_REQUIRE(!evs.empty());
  for (size_t i = 0; i < evs.size(); ++i)
    BOOST_TEST(evs[i].seq == i + 1);
  BOOST_TEST((evs.front().kind() == event_kind::run_start));
  BOOST_REQUIRE((evs.back().kind() == event_kind::completion));
  BOOST_TEST(bodies_of<completion>(evs).size() == 1u);
  auto& done = std::get<completion>(evs.back().body);
  BOOST_TEST((done.status == expected));
  BOOST_TEST(done.reason == str(r.result, "reason"));

  auto decisions = indexed<policy_decision>(evs);
  auto calls = indexed<tool_call>(evs);
  auto results = indexed<tool_result>(evs);
  std::set<std::string> denied;
  for (auto& [i, d] : decisions)
    if (to_string(d.decision) != "allow")
      denied.insert(d.call_id);
  for (auto& [ci, c] : calls) {
    bool allowed_before = false;
    for (auto& [di, d] : decisions)
      allowed_before = allowed_before
                       || (di < ci && d.call_id == c.call_id && to_string(d.decision) == "allow");
    BOOST_TEST(allowed_before, "tool_call " << c.call_id << " (" << c.name
                                            << ") ran without an earlier allow");
    BOOST_TEST(denied.count(c.call_id) == 0u, "denied call " << c.call_id << " ran");
    size_t after = 0;
    for (auto& [ri, res] : results)
      after += ri > ci && res.call_id == c.call_id ? 1 : 0;
    BOOST_TEST(after == 1u, "tool_call " << c.call_id << " has " << after << " results");
  }
  auto doctor = troupe::test::run_command({TROUPE_BIN, "doctor", "--db", r.db});
  BOOST_TEST(doctor.exit_code == 0, "doctor: " << doctor.out << doctor.err);
}

inline const policy_decision* decision_of(const std::vector<event>& evs, const std::string& id) {
  for (auto& ev : evs)
    if (auto* d = std::get_if<policy_decision>(&ev.body); d && d->call_id == id)
      return d;
  return nullptr;
}

inline bool was_called(const std::vector<event>& evs, const std::string& id) {
  for (auto& ev : evs)
    if (auto* c = std::get_if<tool_call>(&ev.body); c && c->call_id == id)
      return true;
  return false;
}

/// The journaled result of the call `id`, which must have been allowed by
/// `rule` (when given), executed and answered.
struct call_record {
  tool_result result;
  int64_t call_us = 0;
  int64_t result_us = 0;
};

inline call_record executed(const std::vector<event>& evs, const std::string& id,
                            const std::string& rule = {}) {
  auto* d = decision_of(evs, id);
  BOOST_REQUIRE_MESSAGE(d != nullptr, "no policy_decision for " << id);
  BOOST_TEST(to_string(d->decision) == "allow", id << ": " << d->reason);
  if (!rule.empty())
    BOOST_TEST(d->rule == rule, id << ": " << d->reason);
  call_record rec;
  bool found = false;
  for (auto& ev : evs) {
    if (auto* c = std::get_if<tool_call>(&ev.body); c && c->call_id == id)
      rec.call_us = ev.ts_us;
    if (auto* res = std::get_if<tool_result>(&ev.body); res && res->call_id == id) {
      rec.result = *res;
      rec.result_us = ev.ts_us;
      found = true;
    }
  }
  BOOST_REQUIRE_MESSAGE(found, "no tool_result for " << id);
  BOOST_TEST_MESSAGE(id << " (" << (rec.result_us - rec.call_us) / 1000 << " ms, ok="
                        << rec.result.ok << "): "
                        << rec.result.output.substr(0, 300));
  return rec;
}

inline tool_result result_of(const std::vector<event>& evs, const std::string& id,
                             const std::string& rule = {}) {
  return executed(evs, id, rule).result;
}

/// The file names directly in `dir`.
inline std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

} // namespace troupe::test::hostile
