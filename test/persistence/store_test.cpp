// The store's writer and readers against a real SQLite file: round trips,
// run bookkeeping, the all-or-nothing seq check, and reopening.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::make_event;
using test::seal;
using test::temp_dir;

namespace {

sealed_event start_of(const std::string& run, const std::string& agent) {
  run_start s;
  s.agent = agent;
  s.tenant = "acme";
  s.task = "task of " + run;
  return seal(make_event(run, 1, s));
}

sealed_event call_of(const std::string& run, uint32_t seq) {
  return seal(make_event(run, seq,
                         tool_call{"c" + std::to_string(seq), "echo", "{}"}));
}

store open_rw(const std::string& path) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  return std::move(*db);
}

std::vector<uint32_t> seqs_of(const std::vector<stored_event>& evs) {
  std::vector<uint32_t> out;
  for (auto& ev : evs)
    out.push_back(ev.seq);
  return out;
}

std::vector<uint32_t> one_to(uint32_t n) {
  std::vector<uint32_t> out;
  for (uint32_t i = 1; i <= n; ++i)
    out.push_back(i);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(journal_store)

BOOST_AUTO_TEST_CASE(interleaved_runs_read_back_in_seq_order) {
  temp_dir dir;
  auto db = open_rw(dir.file("j.db"));
  BOOST_TEST(db.opened_version() == current_schema_version);
  // Three runs, written in interleaved batches of different shapes.
  std::vector<sealed_event> written_a, written_b, written_c;
  written_a.push_back(start_of("run-a", "lead"));
  written_b.push_back(start_of("run-b", "coder"));
  BOOST_REQUIRE(!db.append({written_a[0], written_b[0]}));
  for (uint32_t round = 0; round < 5; ++round) {
    std::vector<sealed_event> batch;
    auto a = call_of("run-a", 2 + round);
    auto b = seal(make_event("run-b", 2 + round, turn_start{round + 1}));
    batch.push_back(a);
    batch.push_back(b);
    written_a.push_back(a);
    written_b.push_back(b);
    if (round == 2) {
      // run-c starts without a run_start: the run row gets empty columns.
      auto c = call_of("run-c", 1);
      batch.insert(batch.begin() + 1, c);
      written_c.push_back(c);
    }
    auto err = db.append(batch);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  auto runs = db.list_runs();
  BOOST_REQUIRE_MESSAGE(runs, render(runs));
  BOOST_REQUIRE_EQUAL(runs->size(), 3u);
  BOOST_TEST((*runs)[0].run_id == "run-a");
  BOOST_TEST((*runs)[0].agent == "lead");
  BOOST_TEST((*runs)[0].tenant == "acme");
  BOOST_TEST((*runs)[0].root_run_id == "run-a");
  BOOST_TEST((*runs)[0].last_seq == 6u);
  BOOST_TEST(((*runs)[0].status == run_status::running));
  BOOST_TEST((*runs)[1].run_id == "run-b");
  BOOST_TEST((*runs)[1].agent == "coder");
  BOOST_TEST((*runs)[1].last_seq == 6u);
  BOOST_TEST((*runs)[2].run_id == "run-c");
  BOOST_TEST((*runs)[2].agent == "");
  BOOST_TEST((*runs)[2].last_seq == 1u);
  // Every run reads back byte for byte, in seq order, with kind and crc.
  struct expectation {
    const char* run;
    const std::vector<sealed_event>* written;
  } all[] = {{"run-a", &written_a}, {"run-b", &written_b},
             {"run-c", &written_c}};
  for (auto& x : all) {
    auto evs = db.events(x.run);
    BOOST_REQUIRE_MESSAGE(evs, render(evs));
    BOOST_REQUIRE_EQUAL(evs->size(), x.written->size());
    for (size_t i = 0; i < evs->size(); ++i) {
      auto& row = (*evs)[i];
      auto& sent = (*x.written)[i];
      BOOST_TEST(row.run_id == x.run);
      BOOST_TEST(row.seq == i + 1);
      BOOST_TEST(row.kind == to_string(sent.header.kind));
      BOOST_TEST(row.ts_us == sent.header.ts_us);
      // The whole event comes back: decoded, it is the one sent.
      auto back = decode(row.bytes);
      BOOST_REQUIRE_MESSAGE(back, render(back));
      BOOST_TEST((encode(*back) == sent.bytes));
      BOOST_TEST(row.crc == checksum(row.body.data(), row.body.size()));
    }
  }
  // An empty run id reads every run: by run, then seq.
  auto every = db.events("");
  BOOST_REQUIRE_MESSAGE(every, render(every));
  BOOST_REQUIRE_EQUAL(every->size(), 13u);
  BOOST_TEST((*every)[0].run_id == "run-a");
  BOOST_TEST((*every)[6].run_id == "run-b");
  BOOST_TEST((*every)[12].run_id == "run-c");
  // by kind
  auto calls = db.events("run-a", event_kind::tool_call);
  BOOST_REQUIRE_MESSAGE(calls, render(calls));
  BOOST_TEST(seqs_of(*calls) == (std::vector<uint32_t>{2, 3, 4, 5, 6}),
             boost::test_tools::per_element());
  auto starts = db.events("run-b", event_kind::run_start);
  BOOST_REQUIRE_MESSAGE(starts, render(starts));
  BOOST_TEST(seqs_of(*starts) == std::vector<uint32_t>{1},
             boost::test_tools::per_element());
  auto none = db.events("run-c", event_kind::completion);
  BOOST_REQUIRE_MESSAGE(none, render(none));
  BOOST_TEST(none->empty());
  auto rep = db.check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
  BOOST_TEST(rep->runs == 3u);
  BOOST_TEST(rep->events == 13u);
}

BOOST_AUTO_TEST_CASE(unknown_run_is_an_error_not_an_empty_run) {
  temp_dir dir;
  auto db = open_rw(dir.file("j.db"));
  BOOST_REQUIRE(!db.append({start_of("run-a", "lead")}));
  auto r = db.find_run("nope");
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error() == store_errc::unknown_run);
  BOOST_TEST(render(r.error()).find("nope") != std::string::npos);
  auto found = db.find_run("run-a");
  BOOST_REQUIRE_MESSAGE(found, render(found));
  BOOST_TEST(found->agent == "lead");
  auto seq = db.last_seq("nope");
  BOOST_REQUIRE_MESSAGE(seq, render(seq));
  BOOST_TEST(*seq == 0u);
  auto evs = db.events("nope");
  BOOST_REQUIRE_MESSAGE(evs, render(evs));
  BOOST_TEST(evs->empty());
}

BOOST_AUTO_TEST_CASE(completion_sets_status_and_kpis_and_status_filter) {
  temp_dir dir;
  auto db = open_rw(dir.file("j.db"));
  kpis k{3, 4, 5, 1, 2, 100, 200, 999, 6, 7};
  completion done{run_status::limit_reached, "", "summary", "max_turns", k};
  auto err = db.append({start_of("run-a", "lead"), start_of("run-b", "lead"),
                        start_of("run-c", "lead"), call_of("run-a", 2),
                        seal(make_event("run-a", 3, done))});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  completion ok{run_status::completed, "42", "", "", kpis{1}};
  err = db.append({seal(make_event("run-c", 2, ok))});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto a = db.find_run("run-a");
  BOOST_REQUIRE_MESSAGE(a, render(a));
  BOOST_TEST((a->status == run_status::limit_reached));
  BOOST_TEST(a->last_seq == 3u);
  BOOST_TEST(a->totals.turns == 3u);
  BOOST_TEST(a->totals.tool_calls == 4u);
  BOOST_TEST(a->totals.model_calls == 5u);
  BOOST_TEST(a->totals.parse_failures == 1u);
  BOOST_TEST(a->totals.retries == 2u);
  BOOST_TEST(a->totals.input_tokens == 100u);
  BOOST_TEST(a->totals.output_tokens == 200u);
  BOOST_TEST(a->totals.wall_ms == 999u);
  BOOST_TEST(a->totals.tool_errors == 6u);
  BOOST_TEST(a->totals.model_errors == 7u);
  auto by_status = [&](run_status s) {
    auto runs = db.list_runs(s);
    BOOST_REQUIRE_MESSAGE(runs, render(runs));
    std::vector<std::string> ids;
    for (auto& r : *runs)
      ids.push_back(r.run_id);
    return ids;
  };
  BOOST_TEST(by_status(run_status::limit_reached)
               == std::vector<std::string>{"run-a"},
             boost::test_tools::per_element());
  BOOST_TEST(by_status(run_status::completed)
               == std::vector<std::string>{"run-c"},
             boost::test_tools::per_element());
  BOOST_TEST(by_status(run_status::running)
               == std::vector<std::string>{"run-b"},
             boost::test_tools::per_element());
  BOOST_TEST(by_status(run_status::failed).empty());
}

// The envelope is stored once per run (its runs row): an event that names
// another parent or root is refused with its batch, and a root naming the run
// itself is the same as empty (both: a top-level run).
BOOST_AUTO_TEST_CASE(an_event_with_another_envelope_than_its_run_is_refused) {
  temp_dir dir;
  auto db = open_rw(dir.file("j.db"));
  BOOST_REQUIRE(!db.append({start_of("run-a", "lead")}));
  auto other = make_event("run-a", 3, tool_call{"c3", "echo", "{}"});
  other.parent_run_id = "run-x";
  auto err = db.append({call_of("run-a", 2), seal(other)});
  BOOST_CHECK(err == store_errc::envelope_mismatch);
  auto msg = render(err);
  BOOST_TEST(msg.find("run run-a seq 3 names parent run 'run-x'") != std::string::npos, msg);
  other.parent_run_id.clear();
  other.root_run_id = "run-y";
  BOOST_CHECK(db.append({call_of("run-a", 2), seal(other)}) == store_errc::envelope_mismatch);
  auto last = db.last_seq("run-a");
  BOOST_REQUIRE_MESSAGE(last, render(last));
  BOOST_TEST(*last == 1u);
  other.root_run_id.clear();
  err = db.append({call_of("run-a", 2), seal(other)});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  // Each reads back as written: the root naming the run itself, or empty.
  auto evs = db.load_run("run-a");
  BOOST_REQUIRE_MESSAGE(evs, render(evs));
  BOOST_TEST((*evs)[1].root_run_id == "run-a");
  BOOST_TEST((*evs)[2].root_run_id.empty());
}

BOOST_AUTO_TEST_CASE(seq_gap_rejects_the_whole_batch) {
  temp_dir dir;
  auto db = open_rw(dir.file("j.db"));
  BOOST_REQUIRE(!db.append({start_of("run-a", "lead"), call_of("run-a", 2)}));
  // Valid events for run-a and a new run-b, then a gap in run-a.
  auto err = db.append({call_of("run-a", 3), start_of("run-b", "coder"),
                        call_of("run-a", 5)});
  BOOST_REQUIRE(err);
  BOOST_CHECK(err == store_errc::sequence_gap);
  auto msg = render(err);
  BOOST_TEST(msg.find("run-a") != std::string::npos);
  BOOST_TEST(msg.find("expects seq 4") != std::string::npos);
  // Nothing of the batch is visible: not run-a's seq 3, not run-b.
  auto evs = db.events("");
  BOOST_REQUIRE_MESSAGE(evs, render(evs));
  BOOST_TEST(evs->size() == 2u);
  auto runs = db.list_runs();
  BOOST_REQUIRE_MESSAGE(runs, render(runs));
  BOOST_REQUIRE_EQUAL(runs->size(), 1u);
  BOOST_TEST((*runs)[0].last_seq == 2u);
  auto last = db.last_seq("run-a");
  BOOST_REQUIRE_MESSAGE(last, render(last));
  BOOST_TEST(*last == 2u);
  // A new run must start at 1; a repeated seq is a gap too.
  err = db.append({call_of("run-new", 2)});
  BOOST_CHECK(err == store_errc::sequence_gap);
  err = db.append({call_of("run-a", 2)});
  BOOST_CHECK(err == store_errc::sequence_gap);
  err = db.append({call_of("run-a", 3), call_of("run-a", 3)});
  BOOST_CHECK(err == store_errc::sequence_gap);
  // The writer is usable after the rejection, from the committed position.
  err = db.append({call_of("run-a", 3), start_of("run-b", "coder")});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto a = db.events("run-a");
  BOOST_REQUIRE_MESSAGE(a, render(a));
  BOOST_TEST(seqs_of(*a) == one_to(3), boost::test_tools::per_element());
  auto rep = db.check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
}

BOOST_AUTO_TEST_CASE(reopen_continues_from_committed_last_seq) {
  temp_dir dir;
  auto path = dir.file("j.db");
  {
    auto db = open_rw(path);
    std::vector<sealed_event> batch{start_of("run-a", "lead")};
    for (uint32_t seq = 2; seq <= 40; ++seq)
      batch.push_back(call_of("run-a", seq));
    batch.push_back(start_of("run-b", "coder"));
    BOOST_REQUIRE(!db.append(batch));
  }
  {
    auto db = open_rw(path);
    BOOST_TEST(db.opened_version() == current_schema_version);
    auto a = db.last_seq("run-a");
    BOOST_REQUIRE_MESSAGE(a, render(a));
    BOOST_TEST(*a == 40u);
    auto b = db.last_seq("run-b");
    BOOST_REQUIRE_MESSAGE(b, render(b));
    BOOST_TEST(*b == 1u);
    BOOST_CHECK(db.append({call_of("run-a", 40)}) == store_errc::sequence_gap);
    BOOST_CHECK(db.append({call_of("run-a", 42)}) == store_errc::sequence_gap);
    auto err = db.append({call_of("run-a", 41), call_of("run-b", 2)});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  auto ro = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(ro, render(ro));
  auto a = ro->events("run-a");
  BOOST_REQUIRE_MESSAGE(a, render(a));
  BOOST_TEST(seqs_of(*a) == one_to(41), boost::test_tools::per_element());
  auto run = ro->find_run("run-a");
  BOOST_REQUIRE_MESSAGE(run, render(run));
  BOOST_TEST(run->last_seq == 41u);
  auto rep = ro->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
}

BOOST_AUTO_TEST_CASE(read_only_open_of_a_missing_file_creates_nothing) {
  temp_dir dir;
  auto path = dir.file("missing.db");
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == store_errc::not_found);
  BOOST_TEST(render(db.error()).find(path) != std::string::npos);
  BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_SUITE_END()
