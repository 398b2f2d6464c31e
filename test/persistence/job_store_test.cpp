// The durable job queue (persistence/job_store.hpp) against real SQLite
// files: submissions and idempotency keys, durability, compare-and-set races
// between two stores, pagination, the dispatcher's views, usage windows.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "persistence/job_store.hpp"
#include "test/persistence/serve_store_support.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/sync_counting_vfs.hpp"

using namespace troupe;
using namespace troupe::persistence;
using jobs::job_status;
using test::hour_us;
using test::submission;
using test::t0_us;

namespace {

std::vector<inserted_job> insert_ok(job_store& s, std::vector<jobs::job> batch) {
  auto r = s.insert(std::move(batch));
  BOOST_REQUIRE_MESSAGE(r, render(r));
  return std::move(*r);
}

jobs::job get_ok(job_store& s, const std::string& job_id) {
  auto r = s.get(job_id);
  BOOST_REQUIRE_MESSAGE(r, render(r));
  BOOST_REQUIRE_MESSAGE(*r, "no job " << job_id);
  return **r;
}

std::vector<std::string> ids_of(const std::vector<jobs::job>& js) {
  std::vector<std::string> out;
  for (auto& j : js)
    out.push_back(j.job_id);
  return out;
}

/// Walks every page of `f` and returns the job ids in the order seen.
std::vector<std::string> walk(job_store& s, job_filter f, size_t* pages = nullptr) {
  std::vector<std::string> seen;
  size_t n = 0;
  for (;;) {
    auto page = s.list(f);
    BOOST_REQUIRE_MESSAGE(page, render(page));
    BOOST_REQUIRE(page->jobs.size() <= f.limit);
    ++n;
    for (auto& j : page->jobs)
      seen.push_back(j.job_id);
    if (page->next_cursor.empty())
      break;
    BOOST_REQUIRE(n < 10000);
    f.cursor = page->next_cursor;
  }
  if (pages != nullptr)
    *pages = n;
  return seen;
}

/// A finished run of `tenant` whose completion, at `ended_us`, carries
/// `tokens` (input and output split) and `cost`.
void finished_run(store& db, const std::string& run, const std::string& tenant,
                  int64_t ended_us, uint64_t tokens, uint64_t cost, bool finished = true) {
  run_start start;
  start.agent = "lead";
  start.tenant = tenant;
  std::vector<sealed_event> batch{
    test::seal(test::make_event(run, 1, start, ended_us - 1000))};
  if (finished) {
    kpis totals;
    totals.input_tokens = tokens - tokens / 4;
    totals.output_tokens = tokens / 4;
    totals.cost_micro_usd = cost;
    batch.push_back(test::seal(test::make_event(
      run, 2, completion{run_status::completed, "done", "", "", totals}, ended_us)));
  }
  auto err = db.append(batch);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
}

} // namespace

BOOST_AUTO_TEST_SUITE(job_store_suite)

BOOST_FIXTURE_TEST_CASE(insert_stores_queued_jobs_in_submission_order, test::serve_journal) {
  auto s = jobs();
  auto a = submission("a");
  a.priority = jobs::job_priority::low;
  a.labels = {"nightly", "quote \" and ünïcode", ""};
  a.deadline_us = t0_us + hour_us;
  a.starts = 2; // a job brought over from elsewhere keeps its count
  auto b = submission("b", "other");
  auto out = insert_ok(s, {a, b});
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  BOOST_TEST(!out[0].existing);
  BOOST_TEST(!out[1].existing);
  BOOST_TEST(out[0].job.seq > 0u);
  BOOST_TEST(out[1].job.seq > out[0].job.seq);
  auto c = insert_ok(s, {submission("c")});
  BOOST_TEST(c[0].job.seq > out[1].job.seq);

  auto back = get_ok(s, "job-a");
  BOOST_TEST((back.status == job_status::queued));
  BOOST_TEST(back.seq == out[0].job.seq);
  BOOST_TEST(back.run_id == "run-a");
  BOOST_TEST(back.tenant == "acme");
  BOOST_TEST(back.key_id == a.key_id);
  BOOST_TEST(back.scenario == "echo");
  BOOST_TEST(back.task == "say a");
  BOOST_TEST((back.priority == jobs::job_priority::low));
  BOOST_TEST(back.labels == a.labels);
  BOOST_TEST(back.submitted_us == t0_us);
  BOOST_TEST(back.deadline_us == t0_us + hour_us);
  BOOST_TEST(back.attempts == 0u);
  BOOST_TEST(back.starts == 2u);
  auto by_run = s.get_by_run("run-b");
  BOOST_REQUIRE_MESSAGE(by_run, render(by_run));
  BOOST_REQUIRE(*by_run);
  BOOST_TEST((*by_run)->job_id == "job-b");
  auto none = s.get("job-none");
  BOOST_REQUIRE_MESSAGE(none, render(none));
  BOOST_TEST(!*none);
}

BOOST_FIXTURE_TEST_CASE(a_bad_job_stores_nothing_of_its_batch, test::serve_journal) {
  auto s = jobs();
  auto no_scenario = submission("x");
  no_scenario.scenario.clear();
  auto r = s.insert({submission("ok"), no_scenario});
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error() == store_errc::invalid_argument);
  BOOST_TEST(render(r.error()).find("scenario") != std::string::npos, render(r.error()));
  // A taken job id fails the whole transaction: the first job is not kept.
  insert_ok(s, {submission("taken")});
  auto again = s.insert({submission("fresh"), submission("taken")});
  BOOST_REQUIRE(!again);
  BOOST_CHECK(again.error() == store_errc::conflict);
  BOOST_TEST(render(again.error()).find("job-taken") != std::string::npos);
  auto fresh = s.get("job-fresh");
  BOOST_REQUIRE_MESSAGE(fresh, render(fresh));
  BOOST_TEST(!*fresh);
  BOOST_TEST(!*s.get("job-ok"));
}

BOOST_FIXTURE_TEST_CASE(an_idempotency_key_names_one_job_for_24_hours, test::serve_journal) {
  auto s = jobs();
  auto first = insert_ok(s, {submission("first", "acme", "key-1", t0_us)})[0];
  BOOST_TEST(!first.existing);
  // The same key a moment before the 24 h are over: the first job, unchanged.
  auto repeat = submission("repeat", "acme", "key-1", t0_us + 24 * hour_us - 1);
  repeat.task = "something else";
  auto again = insert_ok(s, {repeat})[0];
  BOOST_TEST(again.existing);
  BOOST_TEST(again.job.job_id == "job-first");
  BOOST_TEST(again.job.seq == first.job.seq);
  BOOST_TEST(again.job.task == "say first");
  BOOST_TEST(!*s.get("job-repeat"));
  // Another tenant's identical key is its own job.
  auto other = insert_ok(s, {submission("other", "globex", "key-1", t0_us + hour_us)})[0];
  BOOST_TEST(!other.existing);
  BOOST_TEST(other.job.job_id == "job-other");
  // 24 h after the first submission the key submits anew; from then on it
  // names the new job.
  auto later = insert_ok(s, {submission("later", "acme", "key-1", t0_us + 24 * hour_us)})[0];
  BOOST_TEST(!later.existing);
  BOOST_TEST(later.job.job_id == "job-later");
  auto after = insert_ok(s, {submission("after", "acme", "key-1", t0_us + 25 * hour_us)})[0];
  BOOST_TEST(after.existing);
  BOOST_TEST(after.job.job_id == "job-later");
  // No key: every submission is new.
  auto plain = insert_ok(s, {submission("p1"), submission("p2")});
  BOOST_TEST(!plain[0].existing);
  BOOST_TEST(!plain[1].existing);
}

BOOST_FIXTURE_TEST_CASE(a_key_repeated_within_one_batch_is_the_first_job, test::serve_journal) {
  auto s = jobs();
  auto out = insert_ok(s, {submission("one", "acme", "k"), submission("two", "acme", "k"),
                           submission("three", "globex", "k")});
  BOOST_TEST(!out[0].existing);
  BOOST_TEST(out[1].existing);
  BOOST_TEST(out[1].job.job_id == "job-one");
  BOOST_TEST(!out[2].existing);
  BOOST_TEST(!*s.get("job-two"));
}

BOOST_FIXTURE_TEST_CASE(acknowledged_jobs_are_there_after_reopening, test::serve_journal) {
  std::vector<uint64_t> seqs;
  {
    auto s = jobs();
    for (auto& r : insert_ok(s, {submission("a"), submission("b")}))
      seqs.push_back(r.job.seq);
  }
  auto s = jobs();
  BOOST_TEST(get_ok(s, "job-a").seq == seqs[0]);
  BOOST_TEST(get_ok(s, "job-b").seq == seqs[1]);
  auto next = insert_ok(s, {submission("c")});
  BOOST_TEST(next[0].job.seq > seqs[1]);
}

// A commit that only reached the page cache is lost with the power: every
// acknowledged write must have synced the WAL (synchronous=FULL on the
// store's own connection; NORMAL, SQLite's usual WAL setting, syncs only at
// checkpoints and fails this).
BOOST_FIXTURE_TEST_CASE(every_acknowledged_write_syncs_the_wal, test::serve_journal) {
  test::sync_counting_vfs vfs;
  auto s = jobs();
  // The first write may sync as it starts a new WAL whatever the setting;
  // count from the second.
  insert_ok(s, {submission("warm-up")});
  auto before = vfs.wal_syncs();
  insert_ok(s, {submission("a")});
  auto after_insert = vfs.wal_syncs();
  BOOST_TEST(after_insert > before);
  auto j = get_ok(s, "job-a");
  j.status = job_status::running;
  auto won = s.update(j, job_status::queued);
  BOOST_REQUIRE_MESSAGE(won, render(won));
  BOOST_TEST(*won);
  BOOST_TEST(vfs.wal_syncs() > after_insert);
}

BOOST_FIXTURE_TEST_CASE(update_writes_only_from_the_expected_status, test::serve_journal) {
  auto s = jobs();
  insert_ok(s, {submission("a")});
  auto j = get_ok(s, "job-a");
  j.status = job_status::running;
  j.started_us = t0_us + 5;
  j.attempts = 1;
  j.starts = 3;
  j.task = "not a mutable field";
  auto wrong = s.update(j, job_status::dead);
  BOOST_REQUIRE_MESSAGE(wrong, render(wrong));
  BOOST_TEST(!*wrong);
  BOOST_TEST((get_ok(s, "job-a").status == job_status::queued));
  auto won = s.update(j, job_status::queued);
  BOOST_REQUIRE_MESSAGE(won, render(won));
  BOOST_TEST(*won);
  auto again = s.update(j, job_status::queued);
  BOOST_REQUIRE_MESSAGE(again, render(again));
  BOOST_TEST(!*again);
  j.status = job_status::failed;
  j.ended_us = t0_us + 9;
  j.error = "no model endpoint reachable";
  j.not_before_us = t0_us + 100;
  j.sla_breached = true;
  BOOST_TEST(*s.update(j, job_status::running));
  auto back = get_ok(s, "job-a");
  BOOST_TEST((back.status == job_status::failed));
  BOOST_TEST(back.started_us == t0_us + 5);
  BOOST_TEST(back.ended_us == t0_us + 9);
  BOOST_TEST(back.attempts == 1u);
  BOOST_TEST(back.starts == 3u);
  BOOST_TEST(back.not_before_us == t0_us + 100);
  BOOST_TEST(back.sla_breached);
  BOOST_TEST(back.error == "no model endpoint reachable");
  BOOST_TEST(back.task == "say a");
  auto ghost = submission("ghost");
  BOOST_TEST(!*s.update(ghost, job_status::accepted));
}

// Two dispatchers (two connections on one file, two threads) try to start
// every queued job: each job starts exactly once.
BOOST_FIXTURE_TEST_CASE(two_stores_racing_start_each_job_once, test::serve_journal) {
  constexpr int n = 120;
  {
    auto s = jobs();
    std::vector<jobs::job> batch;
    for (int i = 0; i < n; ++i)
      batch.push_back(submission(std::to_string(i)));
    insert_ok(s, batch);
  }
  std::vector<std::string> won[2];
  std::string failure[2];
  auto dispatcher = [&](int me) {
    auto s = job_store::open(path);
    if (!s) {
      failure[me] = render(s.error());
      return;
    }
    auto queued = s->queued();
    if (!queued) {
      failure[me] = render(queued.error());
      return;
    }
    // One walks the queue forwards, the other backwards: they meet midway
    // and then contend for every job.
    if (me == 1)
      std::reverse(queued->begin(), queued->end());
    for (auto& j : *queued) {
      j.status = job_status::running;
      j.attempts = 1;
      auto ok = s->update(j, job_status::queued);
      if (!ok) {
        failure[me] = render(ok.error());
        return;
      }
      if (*ok)
        won[me].push_back(j.job_id);
    }
  };
  std::thread a(dispatcher, 0), b(dispatcher, 1);
  a.join();
  b.join();
  BOOST_TEST(failure[0] == "");
  BOOST_TEST(failure[1] == "");
  std::set<std::string> all(won[0].begin(), won[0].end());
  for (auto& id : won[1])
    BOOST_TEST(all.insert(id).second, id << " started twice");
  BOOST_TEST(all.size() == size_t{n});
  auto s = jobs();
  auto running = s.running();
  BOOST_REQUIRE_MESSAGE(running, render(running));
  BOOST_TEST(running->size() == size_t{n});
  BOOST_TEST(s.queued()->empty());
}

BOOST_FIXTURE_TEST_CASE(pages_walk_every_job_once_newest_first, test::serve_journal) {
  auto s = jobs();
  std::vector<jobs::job> batch;
  for (int i = 0; i < 25; ++i)
    batch.push_back(submission(std::to_string(100 + i)));
  insert_ok(s, batch);
  std::vector<std::string> newest_first;
  for (int i = 24; i >= 0; --i)
    newest_first.push_back("job-" + std::to_string(100 + i));
  for (uint32_t limit : {1u, 7u, 25u, 1000u}) {
    BOOST_TEST_CONTEXT("limit " << limit) {
      job_filter f;
      f.limit = limit;
      size_t pages = 0;
      BOOST_TEST(walk(s, f, &pages) == newest_first, boost::test_tools::per_element());
      BOOST_TEST(pages == (25 + limit - 1) / limit);
    }
  }
  // Jobs submitted during a walk are newer than its first page: the walk
  // still sees each older job once and none of the new ones.
  job_filter f;
  f.limit = 10;
  auto first = s.list(f);
  BOOST_REQUIRE_MESSAGE(first, render(first));
  insert_ok(s, {submission("late-1"), submission("late-2")});
  auto seen = ids_of(first->jobs);
  f.cursor = first->next_cursor;
  auto rest = walk(s, f);
  seen.insert(seen.end(), rest.begin(), rest.end());
  BOOST_TEST(seen == newest_first, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(lists_filter_by_tenant_status_and_label, test::serve_journal) {
  auto s = jobs();
  auto a = submission("a");
  a.labels = {"nightly", "eu"};
  auto b = submission("b", "globex");
  b.labels = {"nightly"};
  auto c = submission("c");
  c.labels = {"nightly-2"};
  insert_ok(s, {a, b, c, submission("d")});
  auto d = get_ok(s, "job-d");
  d.status = job_status::running;
  BOOST_REQUIRE(*s.update(d, job_status::queued));

  job_filter f;
  f.tenant = "acme";
  BOOST_TEST(walk(s, f) == (std::vector<std::string>{"job-d", "job-c", "job-a"}),
             boost::test_tools::per_element());
  f.status = job_status::queued;
  BOOST_TEST(walk(s, f) == (std::vector<std::string>{"job-c", "job-a"}),
             boost::test_tools::per_element());
  job_filter by_label;
  by_label.label = "nightly"; // exact: not "nightly-2"
  by_label.limit = 1;
  BOOST_TEST(walk(s, by_label) == (std::vector<std::string>{"job-b", "job-a"}),
             boost::test_tools::per_element());
  by_label.tenant = "globex";
  BOOST_TEST(walk(s, by_label) == std::vector<std::string>{"job-b"},
             boost::test_tools::per_element());
  job_filter nobody;
  nobody.tenant = "initech";
  auto empty = s.list(nobody);
  BOOST_REQUIRE_MESSAGE(empty, render(empty));
  BOOST_TEST(empty->jobs.empty());
  BOOST_TEST(empty->next_cursor.empty());
}

BOOST_FIXTURE_TEST_CASE(lists_refuse_bad_limits_and_cursors, test::serve_journal) {
  auto s = jobs();
  insert_ok(s, {submission("a"), submission("b")});
  for (uint32_t limit : {0u, 1001u}) {
    job_filter f;
    f.limit = limit;
    auto r = s.list(f);
    BOOST_REQUIRE(!r);
    BOOST_CHECK(r.error() == store_errc::invalid_argument);
    BOOST_TEST(render(r.error()).find("limit") != std::string::npos);
  }
  job_filter f;
  f.limit = 1;
  auto good = s.list(f);
  BOOST_REQUIRE_MESSAGE(good, render(good));
  BOOST_REQUIRE(!good->next_cursor.empty());
  auto garbage_cursors = std::vector<std::string>{
    "x", "c", "c0", "c01", "C1", "cG", "c-1", "c 1", "1", "c1 ", "c10000000000000000",
    "c8000000000000000", std::string("c1\0", 3), "c\xff", "job-a"};
  for (auto& garbage : garbage_cursors) {
    BOOST_TEST_CONTEXT("cursor '" << garbage << "'") {
      f.cursor = garbage;
      auto r = s.list(f);
      BOOST_REQUIRE(!r);
      BOOST_CHECK(r.error() == store_errc::invalid_argument);
      BOOST_TEST(render(r.error()).find("cursor") != std::string::npos, render(r.error()));
    }
  }
}

BOOST_FIXTURE_TEST_CASE(the_dispatcher_sees_lanes_in_order_then_submission_order,
                        test::serve_journal) {
  auto s = jobs();
  auto mk = [](const std::string& n, jobs::job_priority p) {
    auto j = submission(n);
    j.priority = p;
    return j;
  };
  using jobs::job_priority;
  insert_ok(s, {mk("low-1", job_priority::low), mk("normal-1", job_priority::normal),
                mk("high-1", job_priority::high), mk("low-2", job_priority::low),
                mk("high-2", job_priority::high), mk("normal-2", job_priority::normal)});
  auto started = get_ok(s, "job-high-1");
  started.status = job_status::running;
  BOOST_REQUIRE(*s.update(started, job_status::queued));
  auto q = s.queued();
  BOOST_REQUIRE_MESSAGE(q, render(q));
  BOOST_TEST(ids_of(*q) == (std::vector<std::string>{"job-high-2", "job-normal-1",
                                                     "job-normal-2", "job-low-1",
                                                     "job-low-2"}),
             boost::test_tools::per_element());
  auto r = s.running();
  BOOST_REQUIRE_MESSAGE(r, render(r));
  BOOST_TEST(ids_of(*r) == std::vector<std::string>{"job-high-1"},
             boost::test_tools::per_element());
  auto n = s.counts("acme");
  BOOST_REQUIRE_MESSAGE(n, render(n));
  BOOST_TEST(n->queued == 5u);
  BOOST_TEST(n->running == 1u);
  auto none = s.counts("globex");
  BOOST_REQUIRE_MESSAGE(none, render(none));
  BOOST_TEST(none->queued == 0u);
  BOOST_TEST(none->running == 0u);
}

BOOST_FIXTURE_TEST_CASE(usage_counts_spend_in_its_windows, test::serve_journal) {
  int64_t month_start = t0_us;
  int64_t day_start = t0_us + 10 * 24 * hour_us;
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    finished_run(*db, "before-month", "acme", month_start - 1, 1000, 1000);
    finished_run(*db, "this-month", "acme", day_start - 1, 200, 30);
    finished_run(*db, "today", "acme", day_start, 40, 5);
    finished_run(*db, "today-2", "acme", day_start + hour_us, 8, 1);
    finished_run(*db, "other", "globex", day_start + 1, 500, 500);
    finished_run(*db, "going", "acme", day_start + 2, 0, 0, false);
  }
  auto s = jobs();
  auto u = s.usage("acme", day_start, month_start);
  BOOST_REQUIRE_MESSAGE(u, render(u));
  BOOST_TEST(u->tokens == 48u);
  BOOST_TEST(u->cost_micro_usd == 36u);
  auto g = s.usage("globex", day_start, month_start);
  BOOST_TEST(g->tokens == 500u);
  BOOST_TEST(g->cost_micro_usd == 500u);
  auto nobody = s.usage("initech", day_start, month_start);
  BOOST_TEST(nobody->tokens == 0u);
  BOOST_TEST(nobody->cost_micro_usd == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_row_this_troupe_cannot_read_is_corruption, test::serve_journal) {
  auto s = jobs();
  insert_ok(s, {submission("a")});
  test::exec_raw(path, "UPDATE jobs SET status = 'paused' WHERE job_id = 'job-a'");
  auto r = s.get("job-a");
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error() == store_errc::corrupted);
  BOOST_TEST(render(r.error()).find("job-a") != std::string::npos, render(r.error()));
  BOOST_TEST(render(r.error()).find("paused") != std::string::npos, render(r.error()));
  test::exec_raw(path, "UPDATE jobs SET status = 'queued', labels = '{\"a\":1}'");
  auto q = s.queued();
  BOOST_REQUIRE(!q);
  BOOST_CHECK(q.error() == store_errc::corrupted);
}

BOOST_FIXTURE_TEST_CASE(a_read_only_store_reads_and_refuses_writes, test::serve_journal) {
  {
    auto s = jobs();
    insert_ok(s, {submission("a")});
  }
  auto ro = job_store::open(path, true);
  BOOST_REQUIRE_MESSAGE(ro, render(ro));
  BOOST_TEST(get_ok(*ro, "job-a").run_id == "run-a");
  auto r = ro->insert({submission("b")});
  BOOST_REQUIRE(!r);
  auto j = get_ok(*ro, "job-a");
  j.status = job_status::running;
  BOOST_TEST(!ro->update(j, job_status::queued));
  BOOST_TEST((get_ok(*ro, "job-a").status == job_status::queued));
}

BOOST_AUTO_TEST_CASE(opening_needs_the_journal_at_the_current_version) {
  test::temp_dir dir;
  auto missing = job_store::open(dir.file("none.db"));
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(missing.error() == store_errc::not_found);
  BOOST_TEST(!std::filesystem::exists(dir.file("none.db")));
  auto path = dir.file("old.db");
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
  }
  test::exec_raw(path, "PRAGMA user_version = 6");
  auto old = job_store::open(path);
  BOOST_REQUIRE(!old);
  BOOST_CHECK(old.error() == store_errc::needs_migration);
  BOOST_TEST(render(old.error()).find("troupe migrate") != std::string::npos);
  test::exec_raw(path, "PRAGMA user_version = 99");
  auto newer = job_store::open(path);
  BOOST_REQUIRE(!newer);
  BOOST_CHECK(newer.error() == store_errc::newer_schema);
}

BOOST_AUTO_TEST_SUITE_END()
