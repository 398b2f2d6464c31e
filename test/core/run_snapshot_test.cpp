// Checkpoint snapshots (runtime/run_snapshot.hpp): restore(run_start, last
// model_reply, checkpoint) gives the fold up to the checkpoint, a snapshot's
// size does not grow with the calls of the reply, and snapshots written in
// format 1 (every call copied) still restore.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "core/run_snapshot.hpp"
#include "core/run_state.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

event at(uint32_t seq, event_body body) {
  event ev;
  ev.run_id = ev.root_run_id = "r-1";
  ev.seq = seq;
  ev.ts_us = 1000 + seq;
  ev.body = std::move(body);
  return ev;
}

run_start start_body() {
  run_start s;
  s.agent = "lead";
  s.model = "script";
  s.tools = {"echo", "complete"};
  return s;
}

/// A turn whose reply has `n` echo calls (arguments as a model writes them,
/// not normalized), handled up to call `handled`: the first is denied, one
/// waits for approval, the rest ran.
std::vector<event> handled_calls(size_t n, size_t handled) {
  std::vector<event> evs;
  auto add = [&](event_body b) { evs.push_back(at(static_cast<uint32_t>(evs.size() + 1), b)); };
  add(start_body());
  add(turn_start{1, turn_mode::normal});
  add(model_request{1, "script", {"echo", "complete"}, 2});
  model_reply reply{1, "", {}, {10, 10}, "", 5};
  for (size_t i = 0; i < n; ++i)
    reply.tool_calls.push_back({"c" + std::to_string(i), "echo",
                                "{ \"text\" : \"" + std::to_string(i) + "\" }"});
  add(reply);
  for (size_t i = 0; i < handled; ++i) {
    auto id = "c" + std::to_string(i);
    auto args = "{\"text\":\"" + std::to_string(i) + "\"}";
    if (i == 0) {
      add(policy_decision{id, decision_kind::deny, "no", "v", "denied"});
    } else if (i == 2) {
      add(policy_decision{id, decision_kind::ask, "ask", "v", ""});
      add(approval_request{id, "echo", args, "ask", 99});
      add(approval_decision{id, true, "me", ""});
      add(tool_call{id, "echo", args});
      add(tool_result{id, "echo", true, "ok"});
    } else {
      add(policy_decision{id, decision_kind::allow, "ok", "v", ""});
      add(tool_call{id, "echo", args});
      if (i + 1 < handled || handled == n)
        add(tool_result{id, "echo", true, "ok"}); // the last one stays in flight
    }
  }
  return evs;
}

event checkpoint_of(const run_state& st, uint32_t seq) {
  return at(seq, checkpoint{st.turn, st.totals, snapshot_of(st)});
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_snapshot)

BOOST_AUTO_TEST_CASE(restore_gives_the_fold_at_every_point) {
  for (size_t handled = 0; handled <= 5; ++handled) {
    auto evs = handled_calls(5, handled);
    run_state folded;
    const event* reply = nullptr;
    for (auto& ev : evs) {
      apply(folded, ev);
      if (std::holds_alternative<model_reply>(ev.body))
        reply = &ev;
    }
    auto cp = checkpoint_of(folded, static_cast<uint32_t>(evs.size() + 1));
    apply(folded, cp);
    auto restored = restore(evs.front(), reply, cp);
    BOOST_REQUIRE_MESSAGE(restored, render(restored));
    BOOST_TEST(same_control_state(*restored, folded), "after " << handled << " calls");
    // The call in flight keeps its normalized arguments: it is what runs.
    for (size_t i = 0; i < folded.calls.size(); ++i)
      if (folded.calls[i].status == call_slot::state::in_flight)
        BOOST_TEST(restored->calls[i].call.args_json == folded.calls[i].call.args_json);
  }
}

BOOST_AUTO_TEST_CASE(a_snapshot_does_not_grow_with_the_reply) {
  for (size_t n : {10u, 1000u}) {
    auto evs = handled_calls(n, n / 2);
    run_state st;
    for (auto& ev : evs)
      apply(st, ev);
    BOOST_TEST(snapshot_of(st).size() < 64u, n << " calls: " << snapshot_of(st).size());
  }
}

BOOST_AUTO_TEST_CASE(a_snapshot_that_names_calls_needs_their_reply) {
  auto evs = handled_calls(3, 1);
  run_state st;
  for (auto& ev : evs)
    apply(st, ev);
  auto cp = checkpoint_of(st, 99);
  BOOST_TEST(!restore(evs.front(), nullptr, cp));
  auto other = at(50, model_reply{1, "", {{"x", "echo", "{}"}}, {}, "", 0});
  BOOST_TEST(!restore(evs.front(), &other, cp)); // one call, not three
  BOOST_TEST(!restore(evs.front(), &evs[1], cp)); // not a model_reply
}

// Format 1, as journals written before format 2 hold it: calls in full.
BOOST_AUTO_TEST_CASE(format_1_snapshots_still_restore) {
  auto s = [](const std::string& x) { return std::string(1, static_cast<char>(x.size())) + x; };
  std::string v1;
  v1 += '\x01';                         // format 1
  v1 += '\x04';                         // handling_calls
  v1 += '\x01';                         // turn 1
  v1 += '\x00';                         // mode normal
  v1 += '\x00';                         // next mode normal
  v1 += '\x07';                         // last_ts_us
  v1 += '\x02';                         // two calls
  v1 += s("c1") + s("echo") + s("{\"text\":\"a\"}") + '\x04'; // done
  v1 += s("c2") + s("echo") + s("{\"text\":\"b\"}") + '\x00'; // pending
  v1 += '\x01';                         // flags: reply_had_calls
  v1 += std::string("\x00\x00", 2);     // error counters
  v1 += std::string("\x00\x00", 2);     // recovery reason, out of scope
  v1 += '\x00';                         // no complete call
  v1 += '\x00';                         // no pending approvals
  auto cp = at(9, checkpoint{1, {}, v1});
  auto restored = restore(at(1, start_body()), nullptr, cp);
  BOOST_REQUIRE_MESSAGE(restored, render(restored));
  BOOST_REQUIRE_EQUAL(restored->calls.size(), 2u);
  BOOST_TEST(restored->calls[1].call.call_id == "c2");
  BOOST_TEST(restored->calls[1].call.args_json == "{\"text\":\"b\"}");
  BOOST_TEST((restored->calls[0].status == call_slot::state::done));
  BOOST_TEST((restored->phase == run_phase::handling_calls));
  BOOST_TEST(restored->reply_had_calls);
  BOOST_TEST(std::holds_alternative<vet_call_step>(next_step(*restored)));
}

BOOST_AUTO_TEST_SUITE_END()
