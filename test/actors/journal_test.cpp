// The journal actor end to end: concurrent appenders, the durable promise,
// backpressure, sticky writer failure and reopen. Real threads (a detached
// journal in a normal actor system) where the claim is about concurrency;
// the deterministic scheduler where the claim is about message order.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

using namespace troupe;
using namespace std::chrono_literals;
using persistence::open_mode;
using persistence::store;
using test::exec_raw;
using test::read_run;
using test::temp_dir;

namespace {

/// An unstamped event (seq 0) whose body carries `call_id` for checking order.
event_bytes draft(const std::string& run, const std::string& call_id) {
  return encode(test::make_event(run, 0, tool_call{call_id, "echo", "{}"},
                                 test::base_ts_us));
}

std::string call_id_of(const persistence::stored_event& row) {
  auto ev = decode(row.bytes);
  if (!ev)
    return "<" + render(ev.error()) + ">";
  if (auto call = std::get_if<tool_call>(&ev->body))
    return call->call_id;
  return "<not a tool_call>";
}

/// A normal actor system (real worker threads) plus a scoped actor.
struct system_fixture {
  temp_dir dir;
  std::string path = dir.file("journal.db");
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  caf::actor spawn(journal_config jc = {}) {
    jc.path = path;
    jc.detached = true;
    auto j = spawn_journal(sys, jc);
    BOOST_REQUIRE_MESSAGE(j, render(j));
    return *j;
  }

  /// A blocking append; returns the seq or the error.
  caf::expected<uint32_t> append(const caf::actor& j, const event_bytes& ev,
                                 bool durable) {
    caf::expected<uint32_t> result{caf::make_error(caf::sec::runtime_error)};
    auto ok = [&](uint32_t seq) { result = seq; };
    auto fail = [&](caf::error& err) { result = std::move(err); };
    if (durable)
      self->request(j, 10s, append_atom::value, durable_atom::value, ev)
        .receive(ok, fail);
    else
      self->request(j, 10s, append_atom::value, ev).receive(ok, fail);
    return result;
  }

  caf::error call(const caf::actor& j, caf::message msg) {
    caf::error result;
    self->request(j, 10s, std::move(msg))
      .receive([] {}, [&](caf::error& err) { result = std::move(err); });
    return result;
  }
  caf::error flush(const caf::actor& j) {
    return call(j, caf::make_message(flush_atom::value));
  }
  caf::error reopen(const caf::actor& j) {
    return call(j, caf::make_message(reopen_atom::value));
  }

  journal_stats stats(const caf::actor& j) {
    journal_stats result;
    self->request(j, 10s, stats_atom::value)
      .receive([&](const journal_stats& s) { result = s; },
               [&](caf::error& err) {
                 BOOST_FAIL("stats: " << render(err));
               });
    return result;
  }
};

// -- concurrent appenders ----------------------------------------------------

std::string run_name(int appender, int run) {
  return "a" + std::to_string(appender) + "-r" + std::to_string(run);
}

struct appender_state {
  int outstanding = 0;
  std::string problems;
};

// Sends `per_run` events to each of `runs` runs, interleaved, all at once;
// mixes durable and accepted appends. Reports (index, problems) to `reporter`
// once every reply is in, then quits.
caf::behavior appender(caf::stateful_actor<appender_state>* self,
                       caf::actor journal, caf::actor reporter, int index,
                       int runs, int per_run) {
  self->state.outstanding = runs * per_run;
  auto done = [=] {
    if (--self->state.outstanding == 0) {
      self->send(reporter, index, self->state.problems);
      self->quit();
    }
  };
  for (int k = 0; k < per_run; ++k) {
    for (int r = 0; r < runs; ++r) {
      auto ev = draft(run_name(index, r), "c" + std::to_string(k));
      auto expected_seq = static_cast<uint32_t>(k + 1);
      auto on_seq = [=](uint32_t seq) {
        if (seq != expected_seq)
          self->state.problems += run_name(index, r) + ": c"
                                  + std::to_string(k) + " got seq "
                                  + std::to_string(seq) + "; ";
        done();
      };
      auto on_error = [=](caf::error& err) {
        self->state.problems += run_name(index, r) + ": " + render(err) + "; ";
        done();
      };
      if ((k + r + index) % 3 == 0)
        self->request(journal, 60s, append_atom::value, durable_atom::value, ev)
          .then(on_seq, on_error);
      else
        self->request(journal, 60s, append_atom::value, ev)
          .then(on_seq, on_error);
    }
  }
  return {[](flush_atom) {}}; // keeps the actor alive; replies drive it
}

/// The deterministic scheduler: nothing runs until the test says so.
struct deterministic_fixture {
  temp_dir dir;
  std::string path = dir.file("journal.db");
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg.set("scheduler.policy", caf::atom("testing"))};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};

  /// What the journal measures about itself (runtime::stats reads it).
  std::shared_ptr<journal_meter> meter = std::make_shared<journal_meter>();

  /// A journal on this scheduler: it handles messages only in sched.run().
  caf::actor spawn() {
    journal_config jc;
    jc.path = path;
    jc.detached = false;
    jc.meter = meter;
    auto j = spawn_journal(sys, jc);
    BOOST_REQUIRE_MESSAGE(j, render(j));
    return *j;
  }

  /// The reply to the request behind `h`, already in the mailbox.
  template <class Handle>
  caf::expected<uint32_t> seq_of(Handle& h) {
    caf::expected<uint32_t> result{caf::make_error(caf::sec::runtime_error)};
    h.receive([&](uint32_t seq) { result = seq; },
              [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(journal)

BOOST_FIXTURE_TEST_CASE(concurrent_appenders_get_contiguous_seqs_in_send_order,
                        system_fixture) {
  constexpr int appenders = 16;
  constexpr int runs = 16;
  constexpr int per_run = 200;
  journal_config jc;
  jc.max_batch = 500; // many commits, each racing new arrivals
  auto j = spawn(jc);
  auto reporter = caf::actor_cast<caf::actor>(self.ptr());
  for (int i = 0; i < appenders; ++i)
    sys.spawn(appender, j, reporter, i, runs, per_run);
  for (int i = 0; i < appenders; ++i) {
    bool timed_out = false;
    self->receive(
      [&](int index, const std::string& problems) {
        BOOST_TEST(problems.empty(), "appender " << index << ": " << problems);
      },
      caf::after(60s) >> [&] { timed_out = true; });
    BOOST_REQUIRE_MESSAGE(!timed_out, "appender reports missing");
  }
  auto err = flush(j);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto st = stats(j);
  BOOST_TEST(st.accepted == uint64_t{appenders * runs * per_run});
  BOOST_TEST(st.committed == st.accepted);
  BOOST_TEST(st.rejected_busy == 0u);
  BOOST_TEST_MESSAGE("commits: " << st.commits << ", largest batch "
                                 << st.largest_batch);
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto all = db->events("");
  BOOST_REQUIRE_MESSAGE(all, render(all));
  BOOST_REQUIRE_EQUAL(all->size(), size_t{appenders * runs * per_run});
  // Rows are ordered by run, then seq: check each run's block.
  std::map<std::string, std::vector<const persistence::stored_event*>> by_run;
  for (auto& row : *all)
    by_run[row.run_id].push_back(&row);
  BOOST_REQUIRE_EQUAL(by_run.size(), size_t{appenders * runs});
  int bad_runs = 0;
  for (int i = 0; i < appenders; ++i)
    for (int r = 0; r < runs; ++r) {
      auto& rows = by_run[run_name(i, r)];
      bool ok = rows.size() == size_t{per_run};
      for (size_t k = 0; ok && k < rows.size(); ++k)
        ok = rows[k]->seq == k + 1
             && call_id_of(*rows[k]) == "c" + std::to_string(k);
      if (!ok && ++bad_runs <= 3)
        BOOST_ERROR("run " << run_name(i, r) << " is not c0..c"
                           << per_run - 1 << " at seq 1.." << per_run);
    }
  BOOST_TEST(bad_runs == 0);
  auto rep = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
}

BOOST_FIXTURE_TEST_CASE(durable_reply_comes_after_the_event_is_readable,
                        system_fixture) {
  auto j = spawn();
  auto reader = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(reader, render(reader));
  for (uint32_t i = 1; i <= 50; ++i) {
    // An accepted append, not waited for, then a durable one: the durable
    // reply covers everything accepted before it.
    self->send(j, append_atom::value, draft("vis", "acc" + std::to_string(i)));
    auto seq = append(j, draft("vis", "dur" + std::to_string(i)), true);
    BOOST_REQUIRE_MESSAGE(seq, render(seq));
    BOOST_REQUIRE_EQUAL(*seq, 2 * i);
    auto evs = reader->events("vis");
    BOOST_REQUIRE_MESSAGE(evs, render(evs));
    BOOST_REQUIRE_EQUAL(evs->size(), size_t{2 * i});
    BOOST_TEST(call_id_of(evs->back()) == "dur" + std::to_string(i));
    BOOST_TEST(call_id_of((*evs)[2 * i - 2]) == "acc" + std::to_string(i));
  }
  // The reply to each accepted append (its seq) came back to us as a message.
  for (uint32_t i = 1; i <= 50; ++i)
    self->receive([&](uint32_t seq) { BOOST_TEST(seq == 2 * i - 1); },
                  caf::after(1s) >> [] { BOOST_ERROR("reply missing"); });
}

// A burst of appends, each of its own run, far beyond the inbox's capacity:
// those that found it full are answered busy and take no seq; every
// acknowledged one is written.
BOOST_FIXTURE_TEST_CASE(full_inbox_answers_busy_and_loses_no_acknowledged_append,
                        system_fixture) {
  constexpr uint32_t burst = 20000;
  journal_config jc;
  jc.inbox_capacity = 64;
  auto j = spawn(jc);
  for (uint32_t i = 0; i < burst; ++i)
    self->send(j, append_atom::value, draft("burst-" + std::to_string(i), "c"));
  uint32_t acked = 0;
  uint32_t busy = 0;
  std::string other;
  for (uint32_t i = 0; i < burst; ++i) {
    bool timed_out = false;
    self->receive([&](uint32_t seq) { acked += seq == 1 ? 1 : 0; },
                  [&](caf::error& err) {
                    if (err == journal_errc::busy)
                      ++busy;
                    else
                      other = render(err);
                  },
                  caf::after(10s) >> [&] { timed_out = true; });
    BOOST_REQUIRE_MESSAGE(!timed_out, "reply " << i << " missing");
  }
  BOOST_TEST_MESSAGE(acked << " accepted, " << busy << " busy");
  BOOST_TEST(other.empty(), other);
  BOOST_TEST(busy > 0u);
  BOOST_TEST(acked > 0u); // the last ones found the inbox drained
  BOOST_TEST(acked + busy == burst);
  auto err = flush(j);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  BOOST_TEST(stats(j).rejected_busy == busy);
  auto rows = read_run(path, "");
  BOOST_TEST(rows.size() == acked);
}

// A run with a refused append gets nothing more written, also once the inbox
// is empty again: its journal stays a prefix of what it did (a run's quiet
// appends hear only of the refusal, not of what came after).
BOOST_FIXTURE_TEST_CASE(a_refused_append_is_sticky_for_its_run, system_fixture) {
  journal_config jc;
  jc.inbox_capacity = 8;
  auto j = spawn(jc);
  for (uint32_t i = 0; i < 2000; ++i)
    self->send(j, append_atom::value, draft("flooded", "c" + std::to_string(i)));
  uint32_t refused = 0;
  for (uint32_t i = 0; i < 2000; ++i)
    self->receive([](uint32_t) {}, [&](caf::error&) { ++refused; },
                  caf::after(10s) >> [] { BOOST_FAIL("reply missing"); });
  BOOST_REQUIRE_GT(refused, 0u);
  auto err = flush(j);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto written = read_run(path, "flooded").size();
  BOOST_TEST(written + refused == 2000u);
  auto later = append(j, draft("flooded", "later"), true);
  BOOST_REQUIRE(!later);
  BOOST_CHECK(later.error() == journal_errc::busy);
  BOOST_TEST(test::contains(render(later.error()), "an earlier append was refused"));
  BOOST_TEST(read_run(path, "flooded").size() == written);
  // Other runs go on.
  auto calm = append(j, draft("calm", "c1"), true);
  BOOST_REQUIRE_MESSAGE(calm, render(calm));
  BOOST_TEST(*calm == 1u);
}

BOOST_FIXTURE_TEST_CASE(failed_commit_is_sticky_until_reopen, system_fixture) {
  auto j = spawn();
  for (uint32_t i = 1; i <= 3; ++i) {
    auto seq = append(j, draft("r", "ok" + std::to_string(i)), true);
    BOOST_REQUIRE_MESSAGE(seq, render(seq));
    BOOST_REQUIRE_EQUAL(*seq, i);
  }
  exec_raw(path, "CREATE TRIGGER fail BEFORE INSERT ON events "
                 "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  // The failing batch: one accepted append (acknowledged, then lost) and one
  // durable append (answered with the failure).
  auto lost = append(j, draft("r", "lost-accepted"), false);
  BOOST_REQUIRE_MESSAGE(lost, render(lost));
  BOOST_TEST(*lost == 4u);
  auto failed = append(j, draft("r", "lost-durable"), true);
  BOOST_REQUIRE(!failed);
  BOOST_CHECK(failed.error() == journal_errc::writer_failed);
  BOOST_TEST(render(failed.error()).find("injected") != std::string::npos);
  // Sticky: every later append and flush fails without touching the file,
  // for any run, even after the cause is gone.
  auto next = append(j, draft("other", "x"), false);
  BOOST_REQUIRE(!next);
  BOOST_CHECK(next.error() == journal_errc::writer_failed);
  exec_raw(path, "DROP TRIGGER fail");
  next = append(j, draft("r", "still-failed"), true);
  BOOST_REQUIRE(!next);
  BOOST_CHECK(next.error() == journal_errc::writer_failed);
  auto err = flush(j);
  BOOST_CHECK(err == journal_errc::writer_failed);
  // Reopen: seqs continue from the last committed one.
  err = reopen(j);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto seq = append(j, draft("r", "after1"), true);
  BOOST_REQUIRE_MESSAGE(seq, render(seq));
  BOOST_TEST(*seq == 4u);
  seq = append(j, draft("r", "after2"), false);
  BOOST_REQUIRE_MESSAGE(seq, render(seq));
  BOOST_TEST(*seq == 5u);
  err = flush(j);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto rows = read_run(path, "r");
  std::vector<std::string> ids;
  for (auto& row : rows)
    ids.push_back(std::to_string(row.seq) + ":" + call_id_of(row));
  BOOST_TEST(ids
               == (std::vector<std::string>{"1:ok1", "2:ok2", "3:ok3",
                                            "4:after1", "5:after2"}),
             boost::test_tools::per_element());
  BOOST_TEST(read_run(path, "other").empty());
}

BOOST_FIXTURE_TEST_CASE(malformed_draft_is_rejected_and_the_writer_goes_on,
                        system_fixture) {
  auto j = spawn();
  auto bad = append(j, event_bytes{'n', 'o', 'p', 'e'}, true);
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(bad.error() == journal_errc::bad_event);
  event_bytes words(64, '\x7f');
  bad = append(j, words, false);
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(bad.error() == journal_errc::bad_event);
  auto seq = append(j, draft("r", "c1"), true);
  BOOST_REQUIRE_MESSAGE(seq, render(seq));
  BOOST_TEST(*seq == 1u);
  BOOST_TEST(stats(j).accepted == 1u);
}

// What resume asks the journal: the runs still running, then each one's
// events through the run loader, decoded, pending appends included.
BOOST_FIXTURE_TEST_CASE(unfinished_runs_and_their_events_read_through_the_run_loader,
                        system_fixture) {
  auto j = spawn();
  run_start start;
  start.agent = "lead";
  for (auto run : {"open", "closed"})
    BOOST_REQUIRE(append(j, encode(test::make_event(run, 0, start, test::base_ts_us)), true));
  completion done;
  done.status = run_status::completed;
  BOOST_REQUIRE(append(j, encode(test::make_event("closed", 0, done, test::base_ts_us)), true));
  BOOST_REQUIRE(append(j, draft("open", "c1"), false)); // accepted, not yet committed
  std::vector<std::string> unfinished;
  self->request(j, 10s, unfinished_atom::value)
    .receive([&](std::vector<std::string>& ids) { unfinished = std::move(ids); },
             [](caf::error& err) { BOOST_FAIL(render(err)); });
  BOOST_TEST(unfinished == std::vector<std::string>{"open"}, boost::test_tools::per_element());
  // No checkpoint yet: the run reads back as every event, from run_start.
  std::vector<event> history;
  self->request(j, 10s, read_atom::value, std::string{"open"})
    .receive([&](rebuilt_run& run) { history = std::move(run.tail); },
             [](caf::error& err) { BOOST_FAIL(render(err)); });
  BOOST_REQUIRE_EQUAL(history.size(), 2u);
  BOOST_TEST(history[0].seq == 1u);
  BOOST_TEST(std::holds_alternative<run_start>(history[0].body));
  BOOST_TEST(std::get<tool_call>(history[1].body).call_id == "c1");
  caf::error missing;
  self->request(j, 10s, read_atom::value, std::string{"nobody"})
    .receive([](rebuilt_run&) {}, [&](caf::error& err) { missing = std::move(err); });
  BOOST_CHECK(missing == persistence::store_errc::unknown_run);
}

BOOST_FIXTURE_TEST_CASE(appends_queued_behind_a_commit_join_one_transaction,
                        deterministic_fixture) {
  auto j = spawn();
  std::vector<decltype(self->request(j, caf::infinite, append_atom::value,
                                     draft("", "")))>
    handles;
  for (int i = 0; i < 5; ++i)
    handles.push_back(self->request(j, caf::infinite, append_atom::value,
                                    durable_atom::value,
                                    draft("g", "c" + std::to_string(i))));
  sched.run();
  for (uint32_t i = 0; i < handles.size(); ++i) {
    auto seq = seq_of(handles[i]);
    BOOST_REQUIRE_MESSAGE(seq, render(seq));
    BOOST_TEST(*seq == i + 1);
  }
  journal_stats st;
  auto h = self->request(j, caf::infinite, stats_atom::value);
  sched.run();
  h.receive([&](const journal_stats& s) { st = s; },
            [](caf::error& err) { BOOST_ERROR(render(err)); });
  BOOST_TEST(st.commits == 1u);
  BOOST_TEST(st.committed == 5u);
  BOOST_TEST(st.largest_batch == 5u);
  // The meter saw the same, readable without asking the actor: one commit
  // of five events, in the batch-size bucket whose bound is 8.
  auto m = meter->snapshot();
  BOOST_TEST(m.accepted == 5u);
  BOOST_TEST(m.batch_size.count == 1u);
  BOOST_TEST(m.batch_size.sum == 5.0);
  auto eight = metrics::bucket_of(journal_meter::batch_size_bounds(), 8);
  BOOST_TEST(journal_meter::batch_size_bounds()[eight] == 8.0);
  BOOST_TEST(m.batch_size.buckets[eight] == 1u);
  BOOST_TEST(m.commit_latency.count == 1u);
  BOOST_TEST(m.commit_latency.sum > 0.0);
}

// A reopen that arrives while accepted appends wait for their commit must not
// forget their seqs: the next append of the same run continues after them,
// and the acknowledged appends reach the file. (Two supervisors reacting to
// one failure send two reopens, so appends can land between them.)
// KNOWN BUG (expected failure until the reopen handler is fixed): reopen
// clears last_seq while the batch still holds seq 1, so the next append gets
// seq 1 again, the commit fails with sequence_gap and the writer stops.
BOOST_FIXTURE_TEST_CASE(reopen_keeps_appends_accepted_before_it,
                        deterministic_fixture) {
  auto j = spawn();
  auto h1 = self->request(j, caf::infinite, append_atom::value,
                          draft("r", "before-reopen"));
  auto h2 = self->request(j, caf::infinite, reopen_atom::value);
  auto h3 = self->request(j, caf::infinite, append_atom::value,
                          draft("r", "after-reopen"));
  sched.run();
  auto first = seq_of(h1);
  h2.receive([] {}, [](caf::error& err) { BOOST_ERROR(render(err)); });
  auto second = seq_of(h3);
  BOOST_REQUIRE_MESSAGE(first, render(first));
  BOOST_REQUIRE_MESSAGE(second, render(second));
  BOOST_CHECK_EQUAL(*first, 1u);
  BOOST_CHECK_EQUAL(*second, 2u);
  // Both were acknowledged, so both must be committed, in order.
  auto h4 = self->request(j, caf::infinite, append_atom::value,
                          durable_atom::value, draft("r", "durable"));
  sched.run();
  auto third = seq_of(h4);
  BOOST_CHECK_MESSAGE(third, render(third));
  auto rows = read_run(path, "r");
  std::vector<std::string> ids;
  for (auto& row : rows)
    ids.push_back(std::to_string(row.seq) + ":" + call_id_of(row));
  BOOST_CHECK(ids
              == (std::vector<std::string>{"1:before-reopen", "2:after-reopen",
                                           "3:durable"}));
}

BOOST_AUTO_TEST_SUITE_END()
