// Randomized scripted runs through the embedding API. Each run gets its own
// scenario, generated from a seeded std::mt19937 (property_generator.hpp):
// echo calls with random arguments, file writes and reads in the run's
// workspace, text-only replies, provider failures, malformed and empty raw
// arguments, unknown tools, `complete` somewhere or nowhere (the script then
// runs out), and small random limits. Whatever the script does, the journal
// of every run must keep the run loop's contract; the checks below read it
// back with the store.
//
// The seed is printed on stderr; set TROUPE_PROPERTY_SEED to replay one.
// TROUPE_PROPERTY_RUNS changes the number of runs (default 1000).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "core/scenario.hpp"
#include "troupe/runtime.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "test/integration/property_generator.hpp"
#include "test/support/temp_dir.hpp"
#include "core/builtin_tools.hpp"
#include "core/replay.hpp"
#include "core/run_decisions.hpp"
#include "core/run_rebuild.hpp"
#include "core/run_snapshot.hpp"

using namespace troupe;
using namespace troupe::persistence;
namespace fs = std::filesystem;
using troupe::test::temp_dir;
using generator = troupe::test::scenario_generator;

namespace {

constexpr size_t batch_size = 100;

uint64_t env_or(const char* name, uint64_t fallback) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0')
    return std::strtoull(v, nullptr, 0);
  return fallback;
}

// -- checks ------------------------------------------------------------------------

struct started_run {
  size_t index = 0;
  std::string run_id;
  run_limits limits;
  run_result result;
};

template <class T>
size_t count_of(const std::vector<event>& evs) {
  size_t n = 0;
  for (auto& ev : evs)
    n += std::holds_alternative<T>(ev.body);
  return n;
}

/// One line per event for failure messages.
std::string describe(const event& ev) {
  std::string out{to_string(ev.kind())};
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, turn_start>)
        out += " " + std::to_string(x.turn) + " " + std::string(to_string(x.mode));
      else if constexpr (std::is_same_v<T, model_reply>) {
        out += " failure='" + x.failure + "' calls:";
        for (auto& c : x.tool_calls)
          out += " " + c.call_id + "=" + c.name + c.args_json;
      } else if constexpr (std::is_same_v<T, tool_call>)
        out += " " + x.call_id + " " + x.name + " " + x.args_json;
      else if constexpr (std::is_same_v<T, tool_result>)
        out += " " + x.call_id + " " + x.name + (x.ok ? " ok " : " failed ") + x.output;
      else if constexpr (std::is_same_v<T, parse_failure>)
        out += " " + x.call_id + " " + x.name + " " + x.reason;
      else if constexpr (std::is_same_v<T, error_event>)
        out += " " + std::string(to_string(x.code)) + " " + x.call_id + " " + x.message;
      else if constexpr (std::is_same_v<T, recovery>)
        out += " " + x.reason + " " + x.detail;
      else if constexpr (std::is_same_v<T, completion>)
        out += " " + std::string(to_string(x.status)) + " reason=" + x.reason
               + " summary=" + x.summary;
    },
    ev.body);
  return out;
}

/// The durability rule (docs/journal-format.md, "Durability"), checked at
/// every decision the run made: a decision waits for its commit exactly when
/// it journals what someone is told (the completion, an approval request) or
/// the intent of a tool that acts on the world (neither pure, nor `complete`,
/// nor `delegate`). Counts the waits.
std::vector<std::string> durability_problems(const std::vector<event>& evs,
                                             const tool_registry& registry,
                                             size_t& waits) {
  std::vector<std::string> bad;
  auto governance = default_policy();
  run_state st;
  apply(st, evs.front());
  for (size_t k = 1; k < evs.size(); ++k) {
    auto d = decide_next(st, decision_inputs{registry, governance, evs[k].ts_us, nullptr});
    apply(st, evs[k]);
    // Only where the event is the decision's (not an input that came first).
    if (d.journal.empty() || d.journal.front().index() != evs[k].body.index())
      continue;
    bool acts = false;
    for (auto& body : d.journal) {
      acts = acts || std::holds_alternative<completion>(body)
             || std::holds_alternative<approval_request>(body);
      if (auto* call = std::get_if<tool_call>(&body)) {
        auto* def = registry.find(call->name);
        acts = acts || (call->name != "complete" && call->name != "delegate"
                        && (def == nullptr || def->effect != tool_effect::pure));
      }
    }
    bool waits_here = d.wait == durability::durable;
    waits += waits_here ? 1 : 0;
    if (waits_here != acts)
      bad.push_back("the decision journaling seq " + std::to_string(evs[k].seq) + " ("
                    + std::string(to_string(evs[k].kind())) + ") "
                    + (waits_here ? "waits for its commit and acts on nothing"
                                  : "acts on the world without waiting for its commit"));
  }
  return bad;
}

/// Every way the journal of `run` breaks the contract, one line each.
std::vector<std::string> problems_of(const started_run& run,
                                     const std::vector<event>& evs,
                                     const run_info& info) {
  std::vector<std::string> bad;
  auto fail = [&](std::string what) { bad.push_back(std::move(what)); };
  if (evs.empty()) {
    fail("no events");
    return bad;
  }
  for (size_t i = 0; i < evs.size(); ++i)
    if (evs[i].seq != i + 1)
      fail("event " + std::to_string(i) + " has seq " + std::to_string(evs[i].seq));
  if (!std::holds_alternative<run_start>(evs.front().body))
    fail("first event is " + std::string(to_string(evs.front().kind())));
  auto* done = std::get_if<completion>(&evs.back().body);
  if (done == nullptr) {
    fail("last event is " + std::string(to_string(evs.back().kind())));
    return bad;
  }
  if (count_of<completion>(evs) != 1)
    fail("more than one completion");

  // Tool calls and results pair up, each result after its call.
  std::map<std::string, size_t> call_at;
  std::map<std::string, size_t> results;
  std::set<std::string> rejected; // parse failures and refusals
  size_t non_complete_calls = 0;
  bool complete_called = false;
  size_t complete_at = 0;
  std::string complete_status;
  std::string complete_answer;
  for (size_t i = 0; i < evs.size(); ++i) {
    auto& ev = evs[i];
    if (auto* c = std::get_if<tool_call>(&ev.body)) {
      if (!call_at.emplace(c->call_id, i).second)
        fail("tool_call id " + c->call_id + " twice");
      if (c->name == "complete") {
        complete_called = true;
        complete_at = i;
        auto args = nlohmann::json::parse(c->args_json, nullptr, false);
        complete_status = args.is_object() ? args.value("status", "") : "";
        complete_answer = args.is_object() ? args.value("answer", "") : "";
      } else {
        ++non_complete_calls;
      }
    } else if (auto* r = std::get_if<tool_result>(&ev.body)) {
      if (call_at.count(r->call_id) == 0)
        fail("tool_result " + r->call_id + " without an earlier tool_call");
      if (++results[r->call_id] > 1)
        fail("tool_result " + r->call_id + " twice");
    } else if (auto* p = std::get_if<parse_failure>(&ev.body)) {
      rejected.insert(p->call_id);
    } else if (auto* e = std::get_if<error_event>(&ev.body)) {
      if (to_string(e->code) == "refused")
        rejected.insert(e->call_id);
    }
  }
  for (auto& [id, at] : call_at)
    if (results.count(id) == 0)
      fail("tool_call " + id + " (seq " + std::to_string(at + 1) + ") has no tool_result");
  for (auto& id : rejected)
    if (call_at.count(id) != 0)
      fail("call " + id + " was rejected and still executed");
  if (non_complete_calls > run.limits.max_tool_calls)
    fail(std::to_string(non_complete_calls) + " tool calls over the limit of "
         + std::to_string(run.limits.max_tool_calls));

  // Turns: numbered 1..T, at most max_turns plus the recovery turn, and the
  // recovery turn is the last one and offers `complete` alone. A turn's mode
  // follows from the turn before: normal after a provider failure, repair
  // after malformed arguments, reminder after a reply without tool calls.
  struct turn_info {
    turn_mode mode = turn_mode::normal;
    bool failed = false;
    bool had_calls = false;
    bool parse_failure = false;
  };
  std::vector<turn_info> turn_log;
  uint32_t turns = 0;
  bool in_recovery = false;
  size_t recovery_at = 0;
  for (size_t i = 0; i < evs.size(); ++i) {
    auto& ev = evs[i];
    if (auto* t = std::get_if<turn_start>(&ev.body)) {
      if (in_recovery)
        fail("a turn after the recovery turn");
      if (t->turn != ++turns)
        fail("turn " + std::to_string(t->turn) + " where " + std::to_string(turns)
             + " was due");
      in_recovery = t->mode == turn_mode::recovery;
      turn_log.push_back({t->mode});
    } else if (std::holds_alternative<recovery>(ev.body)) {
      recovery_at = i;
    } else if (turn_log.empty()) {
      continue;
    } else if (auto* m = std::get_if<model_request>(&ev.body)) {
      if (in_recovery && m->tools != std::vector<std::string>{"complete"})
        fail("the recovery turn offered more than complete");
    } else if (auto* r = std::get_if<model_reply>(&ev.body)) {
      turn_log.back().failed = !r->failure.empty();
      turn_log.back().had_calls = !r->tool_calls.empty();
    } else if (std::holds_alternative<parse_failure>(ev.body)) {
      turn_log.back().parse_failure = true;
    }
  }
  for (size_t t = 1; t < turn_log.size(); ++t) {
    if (turn_log[t].mode == turn_mode::recovery)
      continue;
    auto& prev = turn_log[t - 1];
    auto want = prev.failed          ? turn_mode::normal
                : prev.parse_failure ? turn_mode::repair
                : !prev.had_calls    ? turn_mode::reminder
                                     : turn_mode::normal;
    if (turn_log[t].mode != want)
      fail("turn " + std::to_string(t + 1) + " is " + std::string(to_string(turn_log[t].mode))
           + ", expected " + std::string(to_string(want)));
  }
  if (turns > run.limits.max_turns + 1)
    fail(std::to_string(turns) + " turns with max_turns "
         + std::to_string(run.limits.max_turns));

  // The end.
  auto recoveries = count_of<recovery>(evs);
  switch (done->status) {
    case run_status::completed:
    case run_status::failed:
      if (!complete_called)
        fail("status " + std::string(to_string(done->status)) + " without complete");
      if ((done->status == run_status::failed) != (complete_status == "failure"))
        fail("status " + std::string(to_string(done->status)) + " but complete said "
             + complete_status);
      if (recoveries != 0)
        fail("a recovery event in a run that ended by complete");
      if (!done->reason.empty())
        fail("reason '" + done->reason + "' without a limit");
      if (done->answer != complete_answer || done->summary != complete_answer)
        fail("answer/summary differ from complete's answer '" + complete_answer + "'");
      break;
    case run_status::limit_reached: {
      if (recoveries != 1)
        fail(std::to_string(recoveries) + " recovery events");
      if (done->summary.empty())
        fail("limit_reached without a summary");
      std::string limit;
      for (auto& ev : evs)
        if (auto* r = std::get_if<recovery>(&ev.body))
          limit = r->reason;
      if (done->reason.empty() || done->reason != limit)
        fail("reason '" + done->reason + "' but recovery said '" + limit + "'");
      if (complete_called && complete_at < recovery_at)
        fail("complete ran before the limit and the run went on");
      if (complete_called && done->summary != complete_answer)
        fail("the recovery turn's complete answer is not the summary");
      if (!done->answer.empty())
        fail("limit_reached with an answer");
      // The limit named really was reached.
      auto& l = run.limits;
      auto& k = done->totals;
      if (limit == "deadline" && l.deadline_ms >= 1000)
        fail("deadline with a budget of " + std::to_string(l.deadline_ms) + " ms");
      if (limit == "max_tokens" && k.input_tokens + k.output_tokens < l.max_tokens)
        fail("max_tokens below the budget");
      if (limit == "max_turns" && turns - 1 < l.max_turns)
        fail("max_turns after " + std::to_string(turns - 1) + " turns");
      if (limit == "max_parse_failures" && k.parse_failures < l.max_parse_failures)
        fail("max_parse_failures below the allowance");
      break;
    }
    default:
      fail("status " + std::string(to_string(done->status)));
  }

  // KPIs, the caller's result and the runs row agree with the events.
  auto& k = done->totals;
  if (k.turns != turns)
    fail("kpi turns " + std::to_string(k.turns) + " vs " + std::to_string(turns));
  if (k.tool_calls != call_at.size())
    fail("kpi tool_calls " + std::to_string(k.tool_calls) + " vs "
         + std::to_string(call_at.size()));
  if (k.model_calls != count_of<model_request>(evs))
    fail("kpi model_calls disagrees");
  if (k.parse_failures != count_of<parse_failure>(evs))
    fail("kpi parse_failures disagrees");
  auto& r = run.result;
  if (r.run_id != run.run_id || r.status != done->status || r.summary != done->summary
      || r.reason != done->reason || r.answer != done->answer)
    fail("run_result disagrees with the completion event");
  if (info.status != done->status)
    fail("runs.status is " + std::string(to_string(info.status)));
  if (info.last_seq != evs.size())
    fail("runs.last_seq is " + std::to_string(info.last_seq) + " of "
         + std::to_string(evs.size()));
  return bad;
}

} // namespace

BOOST_AUTO_TEST_SUITE(property)

BOOST_AUTO_TEST_CASE(generator_is_deterministic_per_seed_and_index) {
  fs::path ws{"/tmp/unused"};
  for (size_t i = 0; i < 20; ++i) {
    auto a = generator{42, i}.make(i, ws);
    auto b = generator{42, i}.make(i, ws);
    BOOST_REQUIRE_EQUAL(a.scripts["a"].size(), b.scripts["a"].size());
    for (size_t k = 0; k < a.scripts["a"].size(); ++k) {
      auto& x = a.scripts["a"][k];
      auto& y = b.scripts["a"][k];
      BOOST_CHECK_EQUAL(x.text, y.text);
      BOOST_CHECK_EQUAL(x.tool_calls.size(), y.tool_calls.size());
    }
    BOOST_CHECK_EQUAL(a.limits.max_turns, b.limits.max_turns);
  }
}

BOOST_AUTO_TEST_CASE(random_scripted_runs_keep_the_journal_contract) {
  const uint64_t seed = env_or("TROUPE_PROPERTY_SEED", std::random_device{}());
  const size_t runs = env_or("TROUPE_PROPERTY_RUNS", 1000);
  std::cerr << "property: seed " << seed << " (TROUPE_PROPERTY_SEED=" << seed
            << " replays it), " << runs << " runs" << std::endl;
  BOOST_TEST_CONTEXT("seed " << seed) {
    temp_dir tmp;
    auto db = (tmp.path / "journal.db").string();
    auto ws = tmp.path / "ws";
    auto t0 = std::chrono::steady_clock::now();

    std::vector<started_run> done;
    {
      runtime_options opts;
      opts.db_path = db;
      auto rt = runtime::create(opts);
      BOOST_REQUIRE_MESSAGE(rt, render(rt));
      for (size_t first = 0; first < runs; first += batch_size) {
        std::vector<std::pair<started_run, std::shared_future<run_result>>> batch;
        for (size_t i = first; i < std::min(runs, first + batch_size); ++i) {
          auto sc = generator{seed, i}.make(i, ws);
          auto handle = (*rt)->start(sc, {});
          BOOST_REQUIRE_MESSAGE(handle, "run " << i << ": " << render(handle));
          started_run s;
          s.index = i;
          s.run_id = handle->id();
          s.limits = sc.limits;
          batch.emplace_back(std::move(s), handle->result());
        }
        for (auto& [s, fut] : batch) {
          BOOST_REQUIRE_MESSAGE(fut.wait_for(std::chrono::seconds(60))
                                  == std::future_status::ready,
                                "run " << s.index << " (" << s.run_id
                                       << ") did not end within 60 s");
          s.result = fut.get();
          done.push_back(std::move(s));
        }
      }
    } // the runtime is gone: every completion is durable and the writer closed
    auto ran = std::chrono::steady_clock::now();

    auto st = store::open(db, open_mode::read_only);
    BOOST_REQUIRE_MESSAGE(st, render(st));
    auto report = st->check_integrity();
    BOOST_REQUIRE_MESSAGE(report, render(report));
    BOOST_CHECK_EQUAL(report->runs, runs);
    for (auto& p : report->problems)
      BOOST_ERROR("integrity: run " << p.run_id << " seq " << p.seq << ": " << p.what);

    std::map<std::string, size_t> statuses;
    std::map<std::string, size_t> reasons;
    size_t failing = 0;
    size_t replays = 0;
    size_t snapshots_checked = 0;
    size_t snapshots_replayed = 0;
    size_t durable_waits = 0;
    uint64_t turns = 0;
    tool_registry replay_registry;
    BOOST_REQUIRE(!register_builtin_tools(replay_registry));
    for (auto& run : done) {
      auto rows = st->events(run.run_id);
      BOOST_REQUIRE_MESSAGE(rows, render(rows));
      std::vector<event> evs;
      for (auto& row : *rows) {
        auto ev = decode(row.bytes);
        BOOST_REQUIRE_MESSAGE(ev, run.run_id << " seq " << row.seq << ": " << render(ev));
        evs.push_back(std::move(*ev));
      }
      auto info = st->find_run(run.run_id);
      BOOST_REQUIRE_MESSAGE(info, render(info));
      auto bad = problems_of(run, evs, *info);
      for (auto& p : durability_problems(evs, replay_registry, durable_waits))
        bad.push_back(std::move(p));
      turns += info->totals.turns;
      // Deterministic replay: the same logic over the journal decides the
      // same steps.
      auto replayed = replay_run(evs, replay_registry, default_policy());
      if (!replayed.identical())
        bad.push_back("replay diverged at seq " + std::to_string(replayed.divergence->seq)
                      + ": expected " + replayed.divergence->expected + ", got "
                      + replayed.divergence->got);
      replays += replayed.identical() ? 1 : 0;
      snapshots_replayed += replayed.snapshots;
      // Every checkpoint restores the run: restored from it (as resume does
      // after a crash just after it), it is the fold up to it, and with the
      // events after it folded in, the full fold. (Replay above compared
      // every snapshot with the fold as well.)
      run_state full;
      for (auto& ev : evs)
        apply(full, ev);
      run_state prefix; // the fold up to k
      transcript chat;  // its transcript, folded alone
      apply(prefix, evs.front());
      apply(chat, evs.front());
      const event* last_reply = nullptr;
      for (size_t k = 1; k < evs.size(); ++k) {
        apply(prefix, evs[k]);
        apply(chat, evs[k]);
        if (std::holds_alternative<model_reply>(evs[k].body))
          last_reply = &evs[k];
        if (!std::holds_alternative<checkpoint>(evs[k].body))
          continue;
        auto restored = restore(evs.front(), last_reply, evs[k], chat);
        if (!restored) {
          bad.push_back("restore at seq " + std::to_string(evs[k].seq) + ": "
                        + render(restored.error()));
          break;
        }
        if (auto diff = state_difference(*restored, prefix); !diff.empty()) {
          bad.push_back("snapshot at seq " + std::to_string(evs[k].seq)
                        + " differs from the fold up to it: " + diff);
          break;
        }
        for (size_t j = k + 1; j < evs.size(); ++j)
          apply(*restored, evs[j]);
        if (auto diff = state_difference(*restored, full); !diff.empty()) {
          bad.push_back("snapshot at seq " + std::to_string(evs[k].seq)
                        + " + tail differs from the full fold: " + diff);
          break;
        }
        ++snapshots_checked;
      }
      // Read back the way resume reads it: from the latest checkpoint.
      auto rebuilt = rebuild(evs);
      if (!rebuilt) {
        bad.push_back("reading the run back: " + render(rebuilt.error()));
      } else {
        if (!rebuilt->passed_over.empty())
          bad.push_back("a checkpoint was passed over: " + rebuilt->passed_over);
        auto tail_replay = replay_from_checkpoint(*rebuilt, replay_registry, default_policy());
        if (!tail_replay.identical())
          bad.push_back("replay from the checkpoint at seq "
                        + std::to_string(tail_replay.from_seq) + " diverged at seq "
                        + std::to_string(tail_replay.divergence->seq) + ": expected "
                        + tail_replay.divergence->expected + ", got "
                        + tail_replay.divergence->got);
        if (auto diff = state_difference(fold_tail(std::move(*rebuilt)), full); !diff.empty())
          bad.push_back("read back from its latest checkpoint, the run differs from its "
                        "fold: " + diff);
      }
      ++statuses[std::string(to_string(run.result.status))];
      if (!run.result.reason.empty())
        ++reasons[run.result.reason];
      if (bad.empty())
        continue;
      // Report the first few broken runs in full; count the rest.
      if (++failing <= 5) {
        std::ostringstream msg;
        msg << "run " << run.index << " (" << run.run_id << ", seed " << seed << "):";
        for (auto& b : bad)
          msg << "\n  " << b;
        msg << "\n  events:";
        for (auto& ev : evs)
          msg << "\n    " << ev.seq << " " << describe(ev);
        BOOST_ERROR(msg.str());
      }
    }
    BOOST_CHECK_MESSAGE(failing == 0, failing << " of " << runs << " runs broke the contract");
    BOOST_CHECK_EQUAL(replays, runs);
    BOOST_CHECK_GT(snapshots_checked, runs);
    BOOST_CHECK_EQUAL(snapshots_replayed, snapshots_checked); // replay compared each one
    // The generator must reach every way a run can end, or the test is weak.
    for (auto* s : {"completed", "failed", "limit_reached"})
      BOOST_CHECK_MESSAGE(runs < 200 || statuses[s] > 0, "no run ended " << s);
    for (auto* r : {"max_turns", "max_tool_calls", "max_tokens",
                    "max_consecutive_errors", "provider_failed", "max_parse_failures"})
      BOOST_CHECK_MESSAGE(runs < 500 || reasons[r] > 0, "no run reached " << r);

    auto checked = std::chrono::steady_clock::now();
    using ms = std::chrono::milliseconds;
    std::cerr << "property: " << runs << " runs in "
              << std::chrono::duration_cast<ms>(ran - t0).count() << " ms, checked in "
              << std::chrono::duration_cast<ms>(checked - ran).count() << " ms;";
    for (auto& [s, n] : statuses)
      std::cerr << " " << s << "=" << n;
    std::cerr << ";";
    for (auto& [r, n] : reasons)
      std::cerr << " " << r << "=" << n;
    std::cerr << "; " << durable_waits << " durable waits in " << turns << " turns"
              << std::endl;
    // The generated runs write files (write_file: idempotent), so the rule
    // was exercised both ways.
    BOOST_CHECK(runs < 100 || durable_waits > runs);
  }
}

BOOST_AUTO_TEST_SUITE_END()
