// Reading a run back from its latest checkpoint (core/run_rebuild.hpp): the
// restore point is the latest checkpoint that can restore the run, the events
// after it are kept and nothing before it is folded into the control state;
// restore point + tail gives the full fold, from every prefix of the journal;
// unusable checkpoints are passed over, with the reason.

#include <boost/test/unit_test.hpp>

#include "core/run_rebuild.hpp"
#include "core/run_snapshot.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"
#include "test/support/run_journal.hpp"

using namespace troupe;
using troupe::test::fold_prefix;
using troupe::test::run_journal;

namespace {

run_journal three_turns() {
  run_journal j;
  j.echo_turn({"a1"});
  j.echo_turn({"b1", "b2", "b3"});
  j.echo_turn({"c1"});
  j.add(turn_start{4, turn_mode::normal});
  j.add(model_request{4, "script", {"echo", "complete"}, 12});
  return j;
}

uint32_t last_checkpoint_seq(const std::vector<event>& evs) {
  uint32_t seq = 0;
  for (auto& ev : evs)
    if (std::holds_alternative<checkpoint>(ev.body))
      seq = ev.seq;
  return seq;
}

// Replaces the snapshot of every checkpoint with the old hand-rolled record.
void as_old_journal(std::vector<event>& evs) {
  for (auto& ev : evs)
    if (auto* cp = std::get_if<checkpoint>(&ev.body)) {
      cp->snapshot.reset();
      cp->state = std::string("\x02\x01", 2);
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_rebuild)

BOOST_AUTO_TEST_CASE(a_run_comes_back_from_its_latest_checkpoint) {
  auto j = three_turns();
  auto r = rebuild(j.events);
  BOOST_REQUIRE_MESSAGE(r, render(r));
  BOOST_TEST(r->from_seq() == last_checkpoint_seq(j.events));
  BOOST_TEST(r->tail.size() == 2u); // turn_start, model_request
  BOOST_TEST(r->passed_over.empty());
  BOOST_TEST(r->events == j.events.size());
  // The state at the restore point is the fold up to it.
  auto upto = fold_prefix(j.events, r->from_seq());
  BOOST_TEST(state_difference(r->state, upto).empty(), state_difference(r->state, upto));
  auto st = fold_tail(std::move(*r));
  BOOST_TEST(state_difference(st, j.st).empty(), state_difference(st, j.st));
  BOOST_TEST((st.phase == run_phase::awaiting_reply));
}

// What the property test checks on 1,000 random runs, here on every prefix of
// one run: wherever a crash cut the journal, reading it back gives the fold.
BOOST_AUTO_TEST_CASE(every_prefix_comes_back_as_its_fold) {
  auto j = three_turns();
  for (size_t n = 1; n <= j.events.size(); ++n) {
    std::vector<event> prefix(j.events.begin(), j.events.begin() + n);
    auto r = rebuild(prefix);
    BOOST_REQUIRE_MESSAGE(r, n << " events: " << render(r));
    BOOST_TEST(r->from_seq() == last_checkpoint_seq(prefix), n << " events");
    auto st = fold_tail(std::move(*r));
    auto want = fold_prefix(j.events, n);
    BOOST_TEST(state_difference(st, want).empty(),
               n << " events: " << state_difference(st, want));
  }
}

// Journals written before snapshots were a struct, and runs that crashed
// before their first checkpoint: folded from run_start, and said so.
BOOST_AUTO_TEST_CASE(without_a_usable_checkpoint_the_run_is_folded_from_run_start) {
  auto j = three_turns();
  auto evs = j.events;
  as_old_journal(evs);
  auto r = rebuild(evs);
  BOOST_REQUIRE_MESSAGE(r, render(r));
  BOOST_TEST(r->from_seq() == 0u);
  BOOST_TEST(r->tail.size() == evs.size());
  BOOST_TEST(r->passed_over.find("seq " + std::to_string(last_checkpoint_seq(evs)))
               != std::string::npos,
             r->passed_over);
  auto st = fold_tail(std::move(*r));
  BOOST_TEST(state_difference(st, j.st).empty(), state_difference(st, j.st));

  std::vector<event> short_run(j.events.begin(), j.events.begin() + 4);
  r = rebuild(short_run);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->from_seq() == 0u);
  BOOST_TEST(r->passed_over.empty()); // nothing was passed over
}

// An old run resumed by this build: its first checkpoints have no snapshot,
// the ones journaled since have one.
BOOST_AUTO_TEST_CASE(a_run_older_than_its_latest_checkpoint_comes_back_from_it) {
  auto j = three_turns();
  auto evs = j.events;
  std::vector<event> old_part(evs.begin(), evs.begin() + 12);
  as_old_journal(old_part);
  std::copy(old_part.begin(), old_part.end(), evs.begin());
  auto r = rebuild(evs);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->from_seq() == last_checkpoint_seq(j.events));
  auto st = fold_tail(std::move(*r));
  BOOST_TEST(state_difference(st, j.st).empty(), state_difference(st, j.st));
}

// A snapshot that cannot be right (a writer bug, or a forged row whose chain
// was recomputed) is never used: the previous checkpoint is, and the reason
// names the one passed over.
BOOST_AUTO_TEST_CASE(an_inconsistent_checkpoint_is_passed_over_for_the_one_before) {
  auto j = three_turns();
  auto evs = j.events;
  auto latest = last_checkpoint_seq(evs);
  std::get<checkpoint>(evs[latest - 1].body).snapshot->messages += 1;
  auto r = rebuild(evs);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->from_seq() < latest);
  BOOST_TEST(r->from_seq() != 0u);
  BOOST_TEST(r->passed_over.find("seq " + std::to_string(latest)) != std::string::npos,
             r->passed_over);
  BOOST_TEST(r->passed_over.find("messages") != std::string::npos, r->passed_over);
  auto st = fold_tail(std::move(*r));
  BOOST_TEST(state_difference(st, j.st).empty(), state_difference(st, j.st));

  // Calls the reply does not have.
  evs = j.events;
  std::get<checkpoint>(evs[latest - 1].body).snapshot->calls = {{call_status::done, 7}};
  r = rebuild(evs);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->from_seq() < latest);
  BOOST_TEST(r->passed_over.find("7 calls") != std::string::npos, r->passed_over);
}

// `troupe show` folds no transcript: it shows none. Its state is the same.
BOOST_AUTO_TEST_CASE(a_reader_without_transcript_gets_the_same_control_state) {
  auto j = three_turns();
  auto r = rebuild(j.events, rebuild_scope::control_only);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->from_seq() == last_checkpoint_seq(j.events));
  BOOST_TEST(r->state.chat.conversation.empty());
  auto st = fold_tail(std::move(*r));
  st.chat = j.st.chat;
  BOOST_TEST(state_difference(st, j.st).empty(), state_difference(st, j.st));
}

BOOST_AUTO_TEST_CASE(a_run_must_begin_with_run_start) {
  auto j = three_turns();
  std::vector<event> evs(j.events.begin() + 1, j.events.end());
  auto r = rebuild(evs);
  BOOST_REQUIRE(!r);
  BOOST_TEST(render(r.error()).find("run_start") != std::string::npos);
  BOOST_TEST(!bool(rebuild({})));
}

BOOST_AUTO_TEST_SUITE_END()
