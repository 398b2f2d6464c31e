// Schema versions: a version-1 file built with raw SQL migrates on a
// read-write open and is refused read-only; a newer file is refused in both
// modes and left byte for byte as it was.

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
    char tmpl[] = "/tmp/troupe-migration-test-XXXXXX";
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

/// A raw connection for building and inspecting files behind the store's back.
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
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    auto rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << sqlite3_errmsg(db_));
    rc = sqlite3_step(st);
    auto x = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_ROW, sql << ": no row");
    return x;
  }
  void insert_v1_event(int64_t run, uint32_t seq, const event& ev) {
    auto bytes = encode(ev);
    sqlite3_stmt* st = nullptr;
    auto rc = sqlite3_prepare_v2(
      db_, "INSERT INTO events(run, seq, kind, ts_us, body) VALUES(?,?,?,?,?)",
      -1, &st, nullptr);
    BOOST_REQUIRE(rc == SQLITE_OK);
    auto kind = std::string(to_string(ev.kind()));
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, ev.ts_us);
    sqlite3_bind_blob(st, 5, bytes.data(), static_cast<int>(bytes.size()),
                      SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_DONE, sqlite3_errmsg(db_));
  }

private:
  sqlite3* db_ = nullptr;
};

// Schema version 1, written down here on purpose rather than derived from the
// current DDL: the test must keep describing the files already out there.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  run_id         TEXT    NOT NULL UNIQUE,
  parent_run_id  TEXT    NOT NULL DEFAULT '',
  root_run_id    TEXT    NOT NULL DEFAULT '',
  agent          TEXT    NOT NULL DEFAULT '',
  tenant         TEXT    NOT NULL DEFAULT '',
  status         TEXT    NOT NULL DEFAULT 'running',
  created_us     INTEGER NOT NULL,
  updated_us     INTEGER NOT NULL
);
CREATE INDEX runs_by_status ON runs(status);
CREATE TABLE events (
  id     INTEGER PRIMARY KEY,
  run    INTEGER NOT NULL,
  seq    INTEGER NOT NULL,
  kind   TEXT    NOT NULL,
  ts_us  INTEGER NOT NULL,
  body   BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_by_run_seq ON events(run, seq);
PRAGMA application_id = 1414681936;
PRAGMA user_version = 1;
)sql";

event make_event(const std::string& run, uint32_t seq, event_body body) {
  event ev;
  ev.run_id = run;
  ev.seq = seq;
  ev.root_run_id = run;
  ev.ts_us = 1700000000000000 + seq;
  ev.body = std::move(body);
  return ev;
}

constexpr kpis v1_totals{4, 6, 5, 0, 1, 1000, 300, 4500, 1, 0};

/// Writes a version-1 journal: run-old (completed, 7 events) and run-live
/// (running, 3 events).
void write_v1_journal(const std::string& path) {
  raw_db raw(path);
  raw.exec(schema_v1);
  raw.exec("BEGIN");
  raw.exec("INSERT INTO runs(id, run_id, root_run_id, agent, tenant, status, "
           "created_us, updated_us) VALUES (1, 'run-old', 'run-old', 'lead', "
           "'acme', 'completed', 1700000000000001, 1700000000000007), "
           "(2, 'run-live', 'run-live', 'coder', 'acme', 'running', "
           "1700000000000001, 1700000000000003)");
  run_start start;
  start.agent = "lead";
  start.tenant = "acme";
  raw.insert_v1_event(1, 1, make_event("run-old", 1, start));
  raw.insert_v1_event(1, 2, make_event("run-old", 2, turn_start{1}));
  raw.insert_v1_event(1, 3, make_event("run-old", 3, tool_call{"c1", "echo", "{}"}));
  raw.insert_v1_event(1, 4, make_event("run-old", 4, tool_result{"c1", "echo", true, "hi"}));
  raw.insert_v1_event(1, 5, make_event("run-old", 5, turn_end{1}));
  raw.insert_v1_event(1, 6, make_event("run-old", 6, checkpoint{1, v1_totals, ""}));
  raw.insert_v1_event(1, 7, make_event("run-old", 7,
                                       completion{run_status::completed, "done",
                                                  "", "", v1_totals}));
  start.agent = "coder";
  raw.insert_v1_event(2, 1, make_event("run-live", 1, start));
  raw.insert_v1_event(2, 2, make_event("run-live", 2, turn_start{1}));
  raw.insert_v1_event(2, 3, make_event("run-live", 3, tool_call{"c1", "echo", "{}"}));
  raw.exec("COMMIT");
}

} // namespace

BOOST_AUTO_TEST_SUITE(migration)

BOOST_AUTO_TEST_CASE(version_1_read_only_needs_migration_and_is_untouched) {
  temp_dir dir;
  auto path = dir.file("v1.db");
  write_v1_journal(path);
  auto before = slurp(path);
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == store_errc::needs_migration);
  auto msg = render(db.error());
  BOOST_TEST(msg.find(path) != std::string::npos);
  BOOST_TEST(msg.find("troupe migrate") != std::string::npos);
  BOOST_TEST((slurp(path) == before));
}

BOOST_AUTO_TEST_CASE(version_1_read_write_migrates_checksums_and_positions) {
  temp_dir dir;
  auto path = dir.file("v1.db");
  write_v1_journal(path);
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_TEST(db->opened_version() == 1);
    auto rep = db->check_integrity();
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    for (auto& p : rep->problems)
      BOOST_TEST_MESSAGE("problem: " << p.run_id << " " << p.seq << " " << p.what);
    BOOST_TEST(rep->clean());
    BOOST_TEST(rep->runs == 2u);
    BOOST_TEST(rep->events == 10u);
    // Every row got the CRC of its body.
    auto evs = db->events("");
    BOOST_REQUIRE_MESSAGE(evs, render(evs));
    BOOST_REQUIRE_EQUAL(evs->size(), 10u);
    for (auto& ev : *evs)
      BOOST_TEST(ev.crc == checksum(ev.bytes.data(), ev.bytes.size()));
    // Positions are filled, so the writer continues each run.
    auto old_run = db->find_run("run-old");
    BOOST_REQUIRE_MESSAGE(old_run, render(old_run));
    BOOST_TEST(old_run->last_seq == 7u);
    BOOST_TEST((old_run->status == run_status::completed));
    BOOST_TEST(old_run->agent == "lead");
    auto live = db->last_seq("run-live");
    BOOST_REQUIRE_MESSAGE(live, render(live));
    BOOST_TEST(*live == 3u);
    auto next = encode(make_event("run-live", 4, turn_end{1}));
    auto header = peek_header(next);
    BOOST_REQUIRE_MESSAGE(header, render(header));
    auto err = db->append({{*header, next}});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  {
    raw_db raw(path);
    BOOST_TEST(raw.scalar("PRAGMA user_version") == current_schema_version);
    BOOST_TEST(raw.scalar("PRAGMA application_id") == application_id);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE type = "
                          "'index' AND name = 'events_by_kind'")
               == 1);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM events WHERE crc = 0") == 0);
  }
  // A second open sees version 2 and migrates nothing; read-only works now.
  auto ro = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(ro, render(ro));
  BOOST_TEST(ro->opened_version() == current_schema_version);
  auto rep = ro->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
  BOOST_TEST(rep->events == 11u);
}

// docs/journal-format.md: "runs.status and the KPI columns are written from
// the completion event". Version 1 had the completion events but no KPI
// columns, so a migrated completed run should carry its completion's totals.
// KNOWN BUG (expected failure): migrate_1_to_2 leaves the KPI columns at 0.
BOOST_AUTO_TEST_CASE(version_1_migration_fills_kpis_of_completed_runs) {
  temp_dir dir;
  auto path = dir.file("v1.db");
  write_v1_journal(path);
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto old_run = db->find_run("run-old");
  BOOST_REQUIRE_MESSAGE(old_run, render(old_run));
  BOOST_CHECK_EQUAL(old_run->totals.turns, v1_totals.turns);
  BOOST_CHECK_EQUAL(old_run->totals.wall_ms, v1_totals.wall_ms);
}

// KNOWN BUG (expected failure until store::open is fixed): a read-write open
// runs `PRAGMA journal_mode = WAL` before it checks the version, which
// rewrites header bytes 18, 19, 27 and 95 of a rollback-journal file it then
// refuses. Drop the decorator with the fix.
BOOST_AUTO_TEST_CASE(newer_schema_is_refused_in_both_modes_and_untouched) {
  temp_dir dir;
  auto path = dir.file("v99.db");
  {
    raw_db raw(path);
    raw.exec("CREATE TABLE runs(id INTEGER PRIMARY KEY, run_id TEXT);"
             "CREATE TABLE events(id INTEGER PRIMARY KEY, shiny BLOB);"
             "INSERT INTO runs(run_id) VALUES('from-the-future');"
             "PRAGMA application_id = 1414681936;"
             "PRAGMA user_version = 99;");
  }
  auto before = slurp(path);
  for (auto mode : {open_mode::read_only, open_mode::read_write}) {
    BOOST_TEST_CONTEXT("mode " << (mode == open_mode::read_only ? "read_only"
                                                                : "read_write")) {
      auto db = store::open(path, mode);
      BOOST_REQUIRE(!db);
      BOOST_CHECK(db.error() == store_errc::newer_schema);
      auto msg = render(db.error());
      BOOST_TEST(msg.find(path) != std::string::npos);
      BOOST_TEST(msg.find("99") != std::string::npos);
      BOOST_TEST((slurp(path) == before));
    }
  }
}

// The same, for a newer file that its writer left in WAL mode, as troupe's
// own writer does.
BOOST_AUTO_TEST_CASE(newer_schema_in_wal_mode_is_refused_and_untouched) {
  temp_dir dir;
  auto path = dir.file("v99-wal.db");
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
  }
  {
    raw_db raw(path);
    raw.exec("PRAGMA user_version = 99");
  }
  auto before = slurp(path);
  for (auto mode : {open_mode::read_only, open_mode::read_write}) {
    auto db = store::open(path, mode);
    BOOST_REQUIRE(!db);
    BOOST_CHECK(db.error() == store_errc::newer_schema);
    BOOST_TEST((slurp(path) == before));
  }
}

BOOST_AUTO_TEST_SUITE_END()
