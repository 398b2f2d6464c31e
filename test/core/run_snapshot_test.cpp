// Checkpoint snapshots (core/run_snapshot.hpp): restore(run_start, last
// model_reply, checkpoint, transcript) gives the fold up to the checkpoint,
// a checkpoint's size does not grow with the calls of the reply, and a
// checkpoint that cannot restore its run says why instead of guessing.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "core/run_snapshot.hpp"
#include "core/run_state.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/run_journal.hpp"

using namespace troupe;
using troupe::test::run_journal;

namespace {

/// A turn whose reply has `n` echo calls (arguments as a model writes them,
/// not normalized), handled up to call `handled`: the first is denied, the
/// third waits for an approval that is given, the rest run, and the last one
/// handled stays in flight unless every call was handled.
run_journal handled_calls(size_t n, size_t handled) {
  run_journal j;
  j.add(turn_start{1, turn_mode::normal});
  j.add(model_request{1, "script", {"echo", "complete"}, 2});
  model_reply reply{1, "", {}, {10, 10}, "", 5};
  for (size_t i = 0; i < n; ++i)
    reply.tool_calls.push_back({"c" + std::to_string(i), "echo",
                                "{ \"text\" : \"" + std::to_string(i) + "\" }"});
  j.add(reply);
  for (size_t i = 0; i < handled; ++i) {
    auto id = "c" + std::to_string(i);
    auto args = "{\"text\":\"" + std::to_string(i) + "\"}";
    if (i == 0) {
      j.add(policy_decision{id, decision_kind::deny, "no", "v", "denied", {}});
    } else if (i == 2) {
      j.add(policy_decision{id, decision_kind::ask, "ask", "v", "", {{}, false, false, 60000}});
      j.add(approval_request{id, "echo", args, "ask", 99});
      j.add(approval_decision{id, true, "me", ""});
      j.add(tool_call{id, "echo", args});
      j.add(tool_result{id, "echo", true, "ok"});
    } else {
      j.add(policy_decision{id, decision_kind::allow, "ok", "v", "", {{"TOKEN"}, true, false, 0}});
      j.add(tool_call{id, "echo", args});
      if (i + 1 < handled || handled == n)
        j.add(tool_result{id, "echo", true, "ok"});
    }
  }
  return j;
}

const event* last_reply(const std::vector<event>& evs) {
  const event* out = nullptr;
  for (auto& ev : evs)
    if (std::holds_alternative<model_reply>(ev.body))
      out = &ev;
  return out;
}

transcript transcript_of(const std::vector<event>& evs) {
  transcript t;
  for (auto& ev : evs)
    apply(t, ev);
  return t;
}

run_snapshot& snapshot_in(event& cp) {
  return *std::get<checkpoint>(cp.body).snapshot;
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_snapshot)

BOOST_AUTO_TEST_CASE(restore_gives_the_fold_at_every_point) {
  for (size_t handled = 0; handled <= 5; ++handled) {
    auto j = handled_calls(5, handled);
    auto& cp = j.add_checkpoint();
    auto restored = restore(j.events.front(), last_reply(j.events), cp, transcript_of(j.events));
    BOOST_REQUIRE_MESSAGE(restored, render(restored));
    auto diff = state_difference(*restored, j.st);
    BOOST_TEST(diff.empty(), "after " << handled << " calls: " << diff);
    // The call in flight keeps its normalized arguments: it is what runs.
    for (size_t i = 0; i < j.st.calls.size(); ++i)
      if (j.st.calls[i].status == call_status::in_flight)
        BOOST_TEST(restored->calls[i].call.args_json == j.st.calls[i].call.args_json);
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_costs_the_same_whatever_the_size_of_the_reply) {
  std::vector<size_t> sizes;
  for (size_t n : {10u, 1000u}) {
    auto j = handled_calls(n, n / 2);
    j.add(tool_result{"c" + std::to_string(n / 2 - 1), "echo", true, "ok"});
    sizes.push_back(encode(j.add_checkpoint()).size());
  }
  BOOST_TEST(sizes[0] == sizes[1]);
  BOOST_TEST(sizes[1] < 512u, sizes[1] << " bytes");
}

BOOST_AUTO_TEST_CASE(a_snapshot_that_names_calls_needs_their_reply) {
  auto j = handled_calls(3, 1);
  auto& cp = j.add_checkpoint();
  auto& start = j.events.front();
  auto chat = transcript_of(j.events);
  auto refused = [&](const event* reply) {
    auto r = restore(start, reply, cp, chat);
    return !r && r.error() == runtime_errc::bad_snapshot;
  };
  BOOST_TEST(refused(nullptr));
  event other = j.events[3];
  other.body = model_reply{1, "", {{"x", "echo", "{}"}}, {}, "", 0};
  BOOST_TEST(refused(&other));        // one call, not three
  BOOST_TEST(refused(&j.events[1]));  // not a model_reply
  other.body = model_reply{1, "", {}, {}, "timeout", 0};
  BOOST_TEST(refused(&other));        // a failed reply has no calls
  BOOST_TEST(!refused(last_reply(j.events)));
}

// Journals written before snapshots were a struct: the checkpoint carries
// the old record and no snapshot, and restores nothing (readers fold).
BOOST_AUTO_TEST_CASE(an_old_checkpoint_has_nothing_to_restore) {
  run_journal j;
  j.echo_turn({"c1"});
  auto cp = j.events.back();
  std::get<checkpoint>(cp.body).snapshot.reset();
  std::get<checkpoint>(cp.body).state = std::string("\x02\x01\x01", 3);
  auto r = restore(j.events.front(), last_reply(j.events), cp, transcript_of(j.events));
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == runtime_errc::bad_snapshot));
  BOOST_TEST(render(r.error()).find("no snapshot") != std::string::npos, render(r.error()));
  BOOST_TEST(render(r.error()).find("seq " + std::to_string(cp.seq)) != std::string::npos);
}

// The snapshot says how long the conversation is: a transcript rebuilt from
// other events than the ones the run saw is refused, not mixed in.
BOOST_AUTO_TEST_CASE(a_transcript_of_another_length_is_refused) {
  run_journal j;
  j.echo_turn({"c1", "c2"});
  auto chat = transcript_of(j.events);
  chat.conversation.pop_back();
  auto r = restore(j.events.front(), last_reply(j.events), j.events.back(), chat);
  BOOST_REQUIRE(!r);
  BOOST_TEST(render(r.error()).find("messages") != std::string::npos, render(r.error()));
  // Without a transcript (a reader that shows none) there is nothing to check.
  BOOST_TEST(bool(restore(j.events.front(), last_reply(j.events), j.events.back(), std::nullopt)));
}

BOOST_AUTO_TEST_CASE(only_a_run_between_start_and_completion_restores) {
  run_journal j;
  j.echo_turn({"c1"});
  for (auto phase : {run_phase::created, run_phase::finished}) {
    auto cp = j.events.back();
    snapshot_in(cp).phase = phase;
    auto r = restore(j.events.front(), last_reply(j.events), cp, transcript_of(j.events));
    BOOST_TEST(!bool(r), to_string(phase));
  }
}

BOOST_AUTO_TEST_CASE(compare_names_the_first_field_that_differs) {
  run_journal j;
  j.echo_turn({"c1"});
  auto folded = snapshot_of(j.st);
  auto journaled = folded;
  BOOST_TEST(!compare(folded, journaled));
  journaled.consecutive_errors = 2;
  journaled.messages = 99;
  auto m = compare(folded, journaled);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->field == "consecutive_errors");
  BOOST_TEST(m->folded == "0");
  BOOST_TEST(m->journaled == "2");
  journaled = folded;
  journaled.calls = {{call_status::in_flight, 1}};
  m = compare(folded, journaled);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->field == "calls");
  BOOST_TEST(m->folded == "[donex1]");
  BOOST_TEST(m->journaled == "[in_flightx1]");
}

// The transcript is a fold of its own: folding it alone over the events gives
// what the full fold gives, denials, refusals and the recovery prompt
// included.
BOOST_AUTO_TEST_CASE(the_transcript_folds_without_the_control_state) {
  run_journal j({"echo", "complete"});
  j.echo_turn({"c1"});
  j.add(turn_start{2, turn_mode::normal});
  j.add(model_request{2, "script", {"echo", "complete"}, 5});
  j.add(model_reply{2, "", {{"d1", "echo", "{}"}, {"d2", "echo", "{}"}, {"d3", "nope", "{}"},
                            {"d4", "echo", "{bad"}},
                    {}, "", 0});
  j.add(policy_decision{"d1", decision_kind::deny, "no-echo", "v", "not today", {}});
  j.add(policy_decision{"d2", decision_kind::ask, "ask", "v", "", {}});
  j.add(approval_request{"d2", "echo", "{}", "ask", 99});
  j.add(approval_decision{"d2", false, "alice", "no"});
  j.add(error_event{error_kind::refused, "tool 'nope' is not offered", "d3"});
  j.add(parse_failure{"d4", "echo", "{bad", "not JSON"});
  j.add(turn_end{2});
  j.add(recovery{"max_turns", "2 of 2 turns used"});
  j.add(turn_start{3, turn_mode::recovery});
  j.add(policy_decision{"d1", decision_kind::deny, "late", "v", "not in this turn", {}}); // names no call
  auto alone = transcript_of(j.events);
  auto with_it = j.st;
  with_it.chat = alone;
  BOOST_TEST(state_difference(with_it, j.st).empty(), state_difference(with_it, j.st));
  BOOST_TEST(j.st.chat.recent_results.size() == 4u); // c1, d1, d2, d4
  BOOST_TEST(j.st.chat.conversation.back().content.find("max_turns") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
