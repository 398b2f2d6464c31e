// Files that are not journals, and journals damaged behind the store's back:
// every case ends in an error value or an integrity problem naming run and
// seq, never in a crash or a silent skip.

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

using namespace troupe;
using namespace troupe::persistence;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/troupe-corruption-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class raw_db {
public:
  explicit raw_db(const std::string& path) {
    auto rc = sqlite3_open(path.c_str(), &db_);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, path << ": " << sqlite3_errstr(rc));
  }
  ~raw_db() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* msg = nullptr;
    auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    std::string text = msg ? msg : "";
    sqlite3_free(msg);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
  }
  event_bytes body(const std::string& run, uint32_t seq) {
    sqlite3_stmt* st = prepare("SELECT body FROM events WHERE seq = ?2 AND run "
                               "= (SELECT id FROM runs WHERE run_id = ?1)");
    sqlite3_bind_text(st, 1, run.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    event_bytes out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      auto p = static_cast<const char*>(sqlite3_column_blob(st, 0));
      out.assign(p, p + sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(!out.empty(), "no row " << run << " " << seq);
    return out;
  }
  /// Replaces a row's body; with `fix_crc` the crc column follows, so only
  /// decoding can notice.
  void set_body(const std::string& run, uint32_t seq, const event_bytes& b,
                bool fix_crc) {
    std::string sql = "UPDATE events SET body = ?3";
    if (fix_crc)
      sql += ", crc = ?4";
    sql += " WHERE seq = ?2 AND run = (SELECT id FROM runs WHERE run_id = ?1)";
    sqlite3_stmt* st = prepare(sql);
    sqlite3_bind_text(st, 1, run.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_blob(st, 3, b.data(), static_cast<int>(b.size()),
                      SQLITE_TRANSIENT);
    if (fix_crc)
      sqlite3_bind_int64(st, 4, checksum(b.data(), b.size()));
    auto rc = sqlite3_step(st);
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_DONE, sqlite3_errmsg(db_));
    BOOST_REQUIRE_EQUAL(sqlite3_changes(db_), 1);
  }

private:
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    auto rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << sqlite3_errmsg(db_));
    return st;
  }
  sqlite3* db_ = nullptr;
};

event make_event(const std::string& run, uint32_t seq, event_body body) {
  event ev;
  ev.run_id = run;
  ev.seq = seq;
  ev.root_run_id = run;
  ev.ts_us = 1732000000000000 + seq;
  ev.body = std::move(body);
  return ev;
}

sealed_event seal(const event& ev) {
  auto bytes = encode(ev);
  auto header = peek_header(bytes);
  BOOST_REQUIRE_MESSAGE(header, render(header));
  return {std::move(*header), std::move(bytes)};
}

/// A clean journal: runs "run-a" and "run-b" with `n` events each.
void write_journal(const std::string& path, uint32_t n,
                   size_t output_size = 16) {
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
  auto err = db->append(batch);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
}

integrity_report check(const std::string& path) {
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto rep = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  for (auto& p : rep->problems)
    BOOST_TEST_MESSAGE("problem: run '" << p.run_id << "' seq " << p.seq
                                        << ": " << p.what);
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

void check_refused(const std::string& path, open_mode mode, store_errc code) {
  auto before = slurp(path);
  auto db = store::open(path, mode);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == code);
  BOOST_TEST(render(db.error()).find(path) != std::string::npos);
  BOOST_TEST((slurp(path) == before), "the refused file changed");
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
  {
    raw_db raw(path);
    raw.exec("CREATE TABLE contacts(name TEXT); "
             "INSERT INTO contacts VALUES('ada')");
  }
  check_refused(path, open_mode::read_only, store_errc::not_a_journal);
}

// docs/journal-format.md: a file that is not troupe's is refused. Refusing
// it must not rewrite someone else's database (e.g. switch it to WAL).
// KNOWN BUG (expected failure until store::open is fixed): the read-write
// open switches the file to WAL before it looks at the application id.
BOOST_AUTO_TEST_CASE(foreign_sqlite_database_is_not_a_journal_read_write) {
  temp_dir dir;
  auto path = dir.file("foreign.db");
  {
    raw_db raw(path);
    raw.exec("CREATE TABLE contacts(name TEXT); "
             "INSERT INTO contacts VALUES('ada')");
  }
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

BOOST_AUTO_TEST_CASE(valid_event_in_the_wrong_row_is_an_envelope_problem) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 5);
  {
    raw_db raw(path);
    // run-b's seq 2 copied over run-a's seq 2: crc and decode are fine.
    raw.set_body("run-a", 2, raw.body("run-b", 2), true);
  }
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-a", 2, "envelope"));
}

BOOST_AUTO_TEST_CASE(deleted_middle_event_is_a_seq_gap) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  {
    raw_db raw(path);
    raw.exec("DELETE FROM events WHERE seq = 3 AND run = "
             "(SELECT id FROM runs WHERE run_id = 'run-a')");
  }
  auto rep = check(path);
  BOOST_TEST(!rep.clean());
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-a", 4, "seq gap: expected 3, found 4"));
  BOOST_TEST(rep.events == 11u);
}

BOOST_AUTO_TEST_CASE(deleted_last_event_disagrees_with_runs_last_seq) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  {
    raw_db raw(path);
    raw.exec("DELETE FROM events WHERE seq = 6 AND run = "
             "(SELECT id FROM runs WHERE run_id = 'run-b')");
  }
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 0, "last_seq is 6"));
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
    BOOST_TEST_CONTEXT("mode " << (mode == open_mode::read_only ? "read_only"
                                                                : "read_write")) {
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
      for (auto& p : rep->problems)
        BOOST_TEST_MESSAGE("problem: run '" << p.run_id << "' seq " << p.seq
                                            << ": " << p.what);
      BOOST_TEST(!rep->clean());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
