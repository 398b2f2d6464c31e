// Checkpoint snapshots in the journal: a Cap'n Proto struct that round-trips
// byte for byte, exports as readable JSON, and leaves old checkpoints (the
// hand-rolled bytes in `state`) as they were. A snapshot holding a value this
// build does not know is no snapshot: the checkpoint still decodes.

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

event checkpoint_event(checkpoint cp) {
  event ev;
  ev.run_id = "run-1";
  ev.seq = 12;
  ev.ts_us = 1732000000123456;
  ev.body = std::move(cp);
  return ev;
}

run_snapshot busy_snapshot() {
  run_snapshot s;
  s.phase = run_phase::handling_calls;
  s.mode = turn_mode::repair;
  s.next_mode = turn_mode::reminder;
  s.last_ts_us = 1732000000123000;
  s.calls = {{call_status::done, 3},
             {call_status::in_flight, 1},
             {call_status::awaiting_approval, 1},
             {call_status::pending, 995}};
  s.decided = {{3, "allow-write", {{"TOKEN"}, true, false, 0}, R"({"path":"a"})"},
                {4, "ask-shell", {{}, false, false, 60000}, std::nullopt}};
  s.reply_had_calls = true;
  s.turn_had_parse_failure = true;
  s.consecutive_errors = 2;
  s.consecutive_provider_failures = 1;
  s.recovery_reason = "max_turns";
  s.out_of_scope = "call to write_file would write '../x'";
  s.complete_call.emplace("partial", "half done");
  s.pending_approvals = {{"c9", "shell", R"({"argv":["ls"]})", "ask-shell", 1732000000999999}};
  s.messages = 17;
  return s;
}

void check_same(const run_snapshot& a, const run_snapshot& b) {
  BOOST_TEST((a.phase == b.phase));
  BOOST_TEST((a.mode == b.mode));
  BOOST_TEST((a.next_mode == b.next_mode));
  BOOST_TEST(a.last_ts_us == b.last_ts_us);
  BOOST_REQUIRE_EQUAL(a.calls.size(), b.calls.size());
  for (size_t i = 0; i < a.calls.size(); ++i) {
    BOOST_TEST((a.calls[i].status == b.calls[i].status));
    BOOST_TEST(a.calls[i].count == b.calls[i].count);
  }
  BOOST_REQUIRE_EQUAL(a.decided.size(), b.decided.size());
  for (size_t i = 0; i < a.decided.size(); ++i) {
    BOOST_TEST(a.decided[i].index == b.decided[i].index);
    BOOST_TEST(a.decided[i].rule == b.decided[i].rule);
    BOOST_TEST(a.decided[i].grants.secrets == b.decided[i].grants.secrets);
    BOOST_TEST(a.decided[i].grants.network == b.decided[i].grants.network);
    BOOST_TEST(a.decided[i].grants.approval_timeout_ms
               == b.decided[i].grants.approval_timeout_ms);
    BOOST_TEST((a.decided[i].args_json == b.decided[i].args_json));
  }
  BOOST_TEST(a.reply_had_calls == b.reply_had_calls);
  BOOST_TEST(a.reply_failed == b.reply_failed);
  BOOST_TEST(a.turn_had_parse_failure == b.turn_had_parse_failure);
  BOOST_TEST(a.cancel_requested == b.cancel_requested);
  BOOST_TEST(a.consecutive_errors == b.consecutive_errors);
  BOOST_TEST(a.consecutive_provider_failures == b.consecutive_provider_failures);
  BOOST_TEST(a.recovery_reason == b.recovery_reason);
  BOOST_TEST(a.out_of_scope == b.out_of_scope);
  BOOST_TEST((a.complete_call == b.complete_call));
  BOOST_REQUIRE_EQUAL(a.pending_approvals.size(), b.pending_approvals.size());
  for (size_t i = 0; i < a.pending_approvals.size(); ++i) {
    BOOST_TEST(a.pending_approvals[i].call_id == b.pending_approvals[i].call_id);
    BOOST_TEST(a.pending_approvals[i].deadline_us == b.pending_approvals[i].deadline_us);
  }
  BOOST_TEST(a.messages == b.messages);
}

} // namespace

BOOST_AUTO_TEST_SUITE(snapshot_codec)

BOOST_AUTO_TEST_CASE(a_snapshot_round_trips_byte_for_byte) {
  for (auto& snap : {run_snapshot{}, busy_snapshot()}) {
    auto ev = checkpoint_event(checkpoint{4, kpis{4, 5, 4, 1, 0, 10, 20, 30, 1, 0, 0}, {}, snap});
    auto bytes = encode(ev);
    auto back = decode(bytes);
    BOOST_REQUIRE_MESSAGE(back, render(back));
    auto& cp = std::get<checkpoint>(back->body);
    BOOST_TEST(cp.state.empty());
    BOOST_REQUIRE(cp.snapshot.has_value());
    check_same(*cp.snapshot, snap);
    BOOST_TEST(encode(*back) == bytes);
  }
}

BOOST_AUTO_TEST_CASE(a_snapshot_exports_as_json_with_snake_case_names) {
  auto bytes = encode(checkpoint_event(checkpoint{4, {}, {}, busy_snapshot()}));
  auto json = to_json(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(json, render(json));
  auto j = nlohmann::json::parse(*json);
  auto& s = j["checkpoint"]["snapshot"];
  BOOST_TEST(s["phase"] == "handling_calls");
  BOOST_TEST(s["next_mode"] == "reminder");
  BOOST_TEST(s["calls"][1]["status"] == "in_flight");
  BOOST_TEST(s["calls"][3]["count"] == 995);
  BOOST_TEST(s["decided_calls"][0]["args_json"] == R"({"path":"a"})");
  BOOST_TEST(s["decided_calls"][0]["secrets"][0] == "TOKEN");
  BOOST_TEST(!s["decided_calls"][1].contains("args_json")); // still the reply's
  BOOST_TEST(s["complete_call"]["answer"] == "half done");
  BOOST_TEST(s["pending_approvals"][0]["rule"] == "ask-shell");
  BOOST_TEST(s["messages"] == 17);
  BOOST_TEST(!j["checkpoint"].contains("state")); // no old bytes: left out
}

// Journals written before snapshots were a struct: the checkpoint carries
// the old record in `state` and no snapshot; it decodes, re-encodes to its
// own bytes (its hash stays), and has no snapshot to restore from.
BOOST_AUTO_TEST_CASE(an_old_checkpoint_keeps_its_bytes_and_has_no_snapshot) {
  std::string old_record("\x02\x04\x01\x00\x00\x07\x00\x00\x01\x00\x00\x00\x00\x00\x00", 15);
  auto bytes = encode(checkpoint_event(checkpoint{1, {}, old_record, std::nullopt}));
  auto back = decode(bytes);
  BOOST_REQUIRE_MESSAGE(back, render(back));
  auto& cp = std::get<checkpoint>(back->body);
  BOOST_TEST(cp.state == old_record);
  BOOST_TEST(!cp.snapshot.has_value());
  BOOST_TEST(encode(*back) == bytes);
}

// A newer troupe may add a phase or a call status. Its snapshot is not
// guessed at: the checkpoint decodes without one (readers fold instead),
// while the rest of the event stays readable.
BOOST_AUTO_TEST_CASE(a_snapshot_with_an_unknown_enumerant_is_no_snapshot) {
  auto with_phase = [](run_phase p) {
    auto s = busy_snapshot();
    s.phase = p;
    return encode(checkpoint_event(checkpoint{4, {}, {}, s}));
  };
  auto a = with_phase(run_phase::between_turns);
  auto b = with_phase(run_phase::awaiting_reply);
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  size_t differing = 0, at = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      ++differing;
      at = i;
    }
  BOOST_REQUIRE_EQUAL(differing, 1u); // the phase's low byte
  a[at] = 0x63;                       // phase #99
  auto back = decode(a);
  BOOST_REQUIRE_MESSAGE(back, render(back));
  auto& cp = std::get<checkpoint>(back->body);
  BOOST_TEST(cp.turn == 4u);
  BOOST_TEST(!cp.snapshot.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
