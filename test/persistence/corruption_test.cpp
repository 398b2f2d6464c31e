// Files that are not journals, and journals damaged behind the store's back:
// every case ends in an error value or an integrity problem naming run and
// seq, never in a crash or a silent skip.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::check_refused;
using test::exec_raw;
using test::make_event;
using test::raw_db;
using test::seal;
using test::temp_dir;
using test::write_file;

namespace {

/// A clean journal: runs "run-a" and "run-b" with `n` events each, each
/// event its own commit (so its own hash chain link), or all of them in one
/// batch (one link per run, on its last row).
void write_journal(const std::string& path, uint32_t n,
                   size_t output_size = 16, bool one_batch = false) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  std::vector<sealed_event> batch;
  for (auto run : {"run-a", "run-b"}) {
    run_start start;
    start.agent = "lead";
    batch.push_back(seal(make_event(run, 1, start)));
    for (uint32_t seq = 2; seq <= n; ++seq)
      batch.push_back(seal(make_event(
        run, seq,
        tool_result{"c" + std::to_string(seq), "echo", true,
                    std::string(output_size, 'x')})));
  }
  if (one_batch) {
    auto err = db->append(batch);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
    return;
  }
  for (auto& ev : batch) {
    auto err = db->append({ev});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
}

integrity_report check(const std::string& path) {
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto rep = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  test::log_problems(*rep);
  return std::move(*rep);
}

bool has_problem(const integrity_report& rep, const std::string& run,
                 uint32_t seq, const std::string& what) {
  for (auto& p : rep.problems)
    if (p.run_id == run && p.seq == seq
        && p.what.find(what) != std::string::npos)
      return true;
  return false;
}

/// A SQLite database of someone else's: one table, no application id.
void write_foreign_db(const std::string& path) {
  raw_db raw(path);
  raw.exec("CREATE TABLE contacts(name TEXT); "
           "INSERT INTO contacts VALUES('ada')");
}

/// Deletes `run`'s event `seq` behind the store's back.
void delete_event(const std::string& path, const std::string& run,
                  uint32_t seq) {
  raw_db raw(path);
  raw.exec("DELETE FROM events WHERE seq = " + std::to_string(seq)
           + " AND run = (SELECT id FROM runs WHERE run_id = '" + run + "')");
}

} // namespace

BOOST_AUTO_TEST_SUITE(corruption)

BOOST_AUTO_TEST_CASE(text_file_is_not_a_journal) {
  temp_dir dir;
  auto path = dir.file("notes.txt");
  write_file(path, "this is a shopping list, not a database\n");
  check_refused(path, open_mode::read_only, store_errc::not_a_journal);
  check_refused(path, open_mode::read_write, store_errc::not_a_journal);
}

BOOST_AUTO_TEST_CASE(foreign_sqlite_database_is_not_a_journal_read_only) {
  temp_dir dir;
  auto path = dir.file("foreign.db");
  write_foreign_db(path);
  check_refused(path, open_mode::read_only, store_errc::not_a_journal);
}

// docs/journal-format.md: a file that is not troupe's is refused. Refusing
// it must not rewrite someone else's database (e.g. switch it to WAL).
// KNOWN BUG (expected failure until store::open is fixed): the read-write
// open switches the file to WAL before it looks at the application id.
BOOST_AUTO_TEST_CASE(foreign_sqlite_database_is_not_a_journal_read_write) {
  temp_dir dir;
  auto path = dir.file("foreign.db");
  write_foreign_db(path);
  check_refused(path, open_mode::read_write, store_errc::not_a_journal);
}

BOOST_AUTO_TEST_CASE(sqlite_database_of_another_application_is_refused) {
  temp_dir dir;
  auto path = dir.file("other-app.db");
  {
    raw_db raw(path);
    raw.exec("PRAGMA application_id = 42; CREATE TABLE t(x)");
  }
  check_refused(path, open_mode::read_only, store_errc::not_a_journal);
}

BOOST_AUTO_TEST_CASE(empty_file_read_only_is_not_a_journal) {
  temp_dir dir;
  auto path = dir.file("empty.db");
  write_file(path, "");
  check_refused(path, open_mode::read_only, store_errc::not_a_journal);
  BOOST_TEST(std::filesystem::file_size(path) == 0u);
}

BOOST_AUTO_TEST_CASE(directory_is_not_a_journal) {
  temp_dir dir;
  auto db = store::open(dir.path.string(), open_mode::read_only);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == store_errc::not_a_journal);
}

BOOST_AUTO_TEST_CASE(flipped_body_byte_is_a_checksum_problem_at_run_and_seq) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  {
    raw_db raw(path);
    auto body = raw.body("run-b", 4);
    // One byte inside the tool output: the event still decodes.
    auto pos = std::string(body.begin(), body.end()).find("xxxx");
    BOOST_REQUIRE(pos != std::string::npos);
    body[pos] ^= 0x01;
    raw.set_body("run-b", 4, body, false);
  }
  auto rep = check(path);
  BOOST_TEST(!rep.clean());
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 4, "checksum"));
  BOOST_TEST(rep.events == 12u);
}

BOOST_AUTO_TEST_CASE(garbage_with_matching_crc_is_a_decode_problem) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 5);
  {
    raw_db raw(path);
    event_bytes garbage(48);
    for (size_t i = 0; i < garbage.size(); ++i)
      garbage[i] = static_cast<char>(0xA5 ^ (i * 37));
    raw.set_body("run-a", 3, garbage, true);
    // Not even whole 8-byte words.
    raw.set_body("run-a", 4, event_bytes{'a', 'b', 'c'}, true);
  }
  auto rep = check(path);
  BOOST_TEST(!rep.clean());
  BOOST_TEST(has_problem(rep, "run-a", 3, "malformed"));
  BOOST_TEST(has_problem(rep, "run-a", 4, "malformed"));
  BOOST_TEST(!has_problem(rep, "run-a", 3, "checksum"));
  // The readers of one run refuse nothing by themselves; decoding the rows is
  // the caller's check, and it fails with the same run and seq.
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto evs = db->events("run-a");
  BOOST_REQUIRE_MESSAGE(evs, render(evs));
  auto bad = decode((*evs)[2].bytes, "run run-a seq 3");
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(bad.error() == schema_errc::malformed_event);
  BOOST_TEST(render(bad.error()).find("run run-a seq 3") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(valid_event_from_another_row_is_a_chain_break) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 5);
  {
    raw_db raw(path);
    // seq 3 copied over seq 2: crc and decode are fine, and the body holds
    // no envelope to disagree with the row.
    raw.set_body("run-a", 2, raw.body("run-a", 3), true);
    // From another run: these events name their run as their root, which
    // stays in the body, so run-b's does not read as run-a's.
    raw.set_body("run-a", 4, raw.body("run-b", 4), true);
  }
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 3u);
  BOOST_TEST(has_problem(rep, "run-a", 2, "hash chain broken at seq 2"));
  BOOST_TEST(has_problem(rep, "run-a", 4, "carries an envelope field"));
  BOOST_TEST(has_problem(rep, "run-a", 4, "hash chain broken at seq 4"));
}

BOOST_AUTO_TEST_CASE(altered_row_of_a_batch_breaks_the_batch_link_naming_its_seqs) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6, 16, true);
  {
    raw_db raw(path);
    raw.set_body("run-a", 3, raw.body("run-a", 4), true);
  }
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-a", 6, "hash chain broken at seq 6 (the batch of seqs 1 to 6)"));
  // Verified loading refuses the whole batch: none of its rows is trusted.
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  size_t seen = 0;
  auto err = db->for_each_verified_event("run-a", [&](const stored_event&, event&) {
    ++seen;
    return caf::error{};
  });
  BOOST_CHECK(err == store_errc::corrupted);
  BOOST_TEST(seen == 0u);
  BOOST_TEST(render(err).find("run run-a seq 6 is damaged") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rows_after_the_last_link_are_reported) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6, 16, true);
  exec_raw(path, "UPDATE events SET hash = x'' WHERE seq = 6 AND run "
                 "= (SELECT id FROM runs WHERE run_id = 'run-b')");
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 1, "seqs 1 to 6 carry no hash chain link"));
}

BOOST_AUTO_TEST_CASE(deleted_middle_event_is_a_seq_gap_and_a_chain_break) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  delete_event(path, "run-a", 3);
  auto rep = check(path);
  BOOST_TEST(!rep.clean());
  BOOST_TEST(rep.problems.size() == 2u);
  BOOST_TEST(has_problem(rep, "run-a", 4, "seq gap: expected 3, found 4"));
  BOOST_TEST(has_problem(rep, "run-a", 4, "hash chain broken at seq 4"));
  BOOST_TEST(rep.events == 11u);
}

BOOST_AUTO_TEST_CASE(deleted_last_event_disagrees_with_runs_last_seq) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  delete_event(path, "run-b", 6);
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 0, "last_seq is 6"));
}

// A status no build knows is corruption named by run and value, never read
// as `failed` (which would hide the run from resume and misreport it).
BOOST_AUTO_TEST_CASE(unknown_run_status_is_corruption_naming_run_and_value) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 3);
  raw_db(path).exec("UPDATE runs SET status = 'paused' WHERE run_id = 'run-b'");
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto one = db->find_run("run-b");
  BOOST_REQUIRE(!one);
  BOOST_CHECK(one.error() == store_errc::corrupted);
  BOOST_TEST(render(one.error()).find("run run-b has status 'paused'") != std::string::npos,
             render(one.error()));
  BOOST_TEST(render(one.error()).find(path) != std::string::npos);
  auto all = db->list_runs();
  BOOST_REQUIRE(!all);
  BOOST_CHECK(all.error() == store_errc::corrupted);
  BOOST_TEST(!!db->find_run("run-a")); // the other run reads as before
  // Doctor reports the row and checks everything else.
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 0, "runs.status is 'paused'"));
  BOOST_TEST(rep.events == 6u);
}

BOOST_AUTO_TEST_CASE(file_truncated_to_half_is_an_error_or_a_problem) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 400, 300); // ~300 KiB: many pages on both sides
  {
    raw_db raw(path);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  auto size = std::filesystem::file_size(path);
  BOOST_REQUIRE_GT(size, 64u * 1024u);
  std::filesystem::resize_file(path, size / 2);
  for (auto mode : {open_mode::read_only, open_mode::read_write}) {
    BOOST_TEST_CONTEXT("mode " << test::mode_name(mode)) {
      auto db = store::open(path, mode);
      if (!db) {
        BOOST_TEST_MESSAGE("open: " << render(db.error()));
        BOOST_CHECK(db.error() == store_errc::corrupted);
        continue;
      }
      auto rep = db->check_integrity();
      if (!rep) {
        BOOST_TEST_MESSAGE("check_integrity: " << render(rep.error()));
        BOOST_CHECK(rep.error() == store_errc::corrupted);
        continue;
      }
      test::log_problems(*rep);
      BOOST_TEST(!rep->clean());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
