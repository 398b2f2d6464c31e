// Schema versions: version-1 and version-2 files built with raw SQL migrate
// on a read-write open (to the current version, in one step) and are refused
// read-only; a newer file is refused in both modes and left byte for byte as
// it was.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "persistence/job_store.hpp"
#include "persistence/store.hpp"
#include "persistence/tenant_store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/schema_v1.hpp"
#include "schemas/stored_form.hpp"
#include "test/support/temp_dir.hpp"
#include "test/persistence/chain_support.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::raw_db;
using test::slurp;
using test::temp_dir;

namespace {

/// An event of the version-1 journal, stamped from 1700000000000000 on as the
/// runs rows below expect.
event v1_event(const std::string& run, uint32_t seq, event_body body) {
  return test::make_event(run, seq, std::move(body), 1700000000000000 + seq);
}

/// One run of a version-1 journal under construction.
struct v1_run {
  raw_db& raw;
  int64_t row; ///< its id in the runs table
  std::string run_id;

  void add(uint32_t seq, event_body body) {
    test::insert_v1_event(raw, row, v1_event(run_id, seq, std::move(body)));
  }
};

constexpr kpis v1_totals{4, 6, 5, 0, 1, 1000, 300, 4500, 1, 0};

/// Writes a version-1 journal: run-old (completed, 7 events) and run-live
/// (running, 3 events).
void write_v1_journal(const std::string& path) {
  raw_db raw(path);
  raw.exec(test::schema_v1);
  raw.exec("BEGIN");
  raw.exec("INSERT INTO runs(id, run_id, root_run_id, agent, tenant, status, "
           "created_us, updated_us) VALUES (1, 'run-old', 'run-old', 'lead', "
           "'acme', 'completed', 1700000000000001, 1700000000000007), "
           "(2, 'run-live', 'run-live', 'coder', 'acme', 'running', "
           "1700000000000001, 1700000000000003)");
  run_start start;
  start.agent = "lead";
  start.tenant = "acme";
  v1_run old_run{raw, 1, "run-old"};
  old_run.add(1, start);
  old_run.add(2, turn_start{1});
  old_run.add(3, tool_call{"c1", "echo", "{}"});
  old_run.add(4, tool_result{"c1", "echo", true, "hi"});
  old_run.add(5, turn_end{1});
  old_run.add(6, checkpoint{1, v1_totals, ""});
  old_run.add(7, completion{run_status::completed, "done", "", "", v1_totals});
  start.agent = "coder";
  v1_run live_run{raw, 2, "run-live"};
  live_run.add(1, start);
  live_run.add(2, turn_start{1});
  live_run.add(3, tool_call{"c1", "echo", "{}"});
  raw.exec("COMMIT");
}

/// A version-1 journal in a fresh directory.
struct v1_journal {
  temp_dir dir;
  std::string path = dir.file("v1.db");
  v1_journal() { write_v1_journal(path); }
};

/// Version 2 of the journal schema, as troupe 0.1 builds wrote it before the
/// hash chain. Written down here rather than derived from the current DDL:
/// the test must keep describing the files already out there.
constexpr const char* schema_v2 = R"sql(
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  run_id         TEXT    NOT NULL UNIQUE,
  parent_run_id  TEXT    NOT NULL DEFAULT '',
  root_run_id    TEXT    NOT NULL DEFAULT '',
  agent          TEXT    NOT NULL DEFAULT '',
  tenant         TEXT    NOT NULL DEFAULT '',
  status         TEXT    NOT NULL DEFAULT 'running',
  created_us     INTEGER NOT NULL,
  updated_us     INTEGER NOT NULL,
  last_seq       INTEGER NOT NULL DEFAULT 0,
  turns          INTEGER NOT NULL DEFAULT 0,
  tool_calls     INTEGER NOT NULL DEFAULT 0,
  model_calls    INTEGER NOT NULL DEFAULT 0,
  parse_failures INTEGER NOT NULL DEFAULT 0,
  retries        INTEGER NOT NULL DEFAULT 0,
  input_tokens   INTEGER NOT NULL DEFAULT 0,
  output_tokens  INTEGER NOT NULL DEFAULT 0,
  wall_ms        INTEGER NOT NULL DEFAULT 0,
  tool_errors    INTEGER NOT NULL DEFAULT 0,
  model_errors   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_status ON runs(status);
CREATE TABLE events (
  id     INTEGER PRIMARY KEY,
  run    INTEGER NOT NULL,
  seq    INTEGER NOT NULL,
  kind   TEXT    NOT NULL,
  ts_us  INTEGER NOT NULL,
  body   BLOB    NOT NULL,
  crc    INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_by_run_seq ON events(run, seq);
CREATE INDEX events_by_kind ON events(kind, run);
PRAGMA application_id = 1414681936;
PRAGMA user_version = 2;
)sql";

/// Inserts `ev` as a version-2 events row (crc, no hash) of the runs row
/// `run`.
void insert_v2_event(raw_db& raw, int64_t run, const event& ev) {
  auto bytes = encode(ev);
  auto kind = std::string(to_string(ev.kind()));
  sqlite3_stmt* st = raw.prepare("INSERT INTO events(run, seq, kind, ts_us, "
                                 "body, crc) VALUES(?,?,?,?,?,?)");
  sqlite3_bind_int64(st, 1, run);
  sqlite3_bind_int64(st, 2, ev.seq);
  sqlite3_bind_text(st, 3, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, ev.ts_us);
  sqlite3_bind_blob(st, 5, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 6, checksum(bytes.data(), bytes.size()));
  auto rc = sqlite3_step(st);
  sqlite3_finalize(st);
  BOOST_REQUIRE_MESSAGE(rc == SQLITE_DONE, raw.errmsg());
}

/// Writes a version-2 journal: run-done (completed, 5 events, one of them
/// large enough for a second segment) and run-live (running, 3 events).
void write_v2_journal(const std::string& path) {
  raw_db raw(path);
  raw.exec(schema_v2);
  raw.exec("BEGIN");
  raw.exec("INSERT INTO runs(id, run_id, root_run_id, agent, tenant, status, "
           "created_us, updated_us, last_seq, turns, wall_ms) VALUES "
           "(1, 'run-done', 'run-done', 'lead', 'acme', 'completed', "
           "1700000000000001, 1700000000000005, 5, 4, 4500), "
           "(2, 'run-live', 'run-live', 'coder', 'acme', 'running', "
           "1700000000000001, 1700000000000003, 3, 0, 0)");
  run_start start;
  start.agent = "lead";
  start.tenant = "acme";
  insert_v2_event(raw, 1, v1_event("run-done", 1, start));
  insert_v2_event(raw, 1, v1_event("run-done", 2, turn_start{1}));
  insert_v2_event(raw, 1, v1_event("run-done", 3, tool_call{"c1", "echo", "{}"}));
  insert_v2_event(raw, 1, v1_event("run-done", 4,
                                   tool_result{"c1", "echo", true,
                                               std::string(3000, 'o')}));
  insert_v2_event(raw, 1, v1_event("run-done", 5,
                                   completion{run_status::completed, "done",
                                              "", "", v1_totals}));
  start.agent = "coder";
  insert_v2_event(raw, 2, v1_event("run-live", 1, start));
  insert_v2_event(raw, 2, v1_event("run-live", 2, turn_start{1}));
  insert_v2_event(raw, 2, v1_event("run-live", 3, tool_call{"c1", "echo", "{}"}));
  raw.exec("COMMIT");
}

/// A version-2 journal in a fresh directory.
struct v2_journal {
  temp_dir dir;
  std::string path = dir.file("v2.db");
  v2_journal() { write_v2_journal(path); }
};

/// What versions 3 to 6 added to version 2, as those builds wrote it: with
/// schema_v2 first, a version-6 journal (the last before troupe serve).
constexpr const char* v2_to_v6 = R"sql(
ALTER TABLE events ADD COLUMN hash BLOB NOT NULL DEFAULT x'';
CREATE TABLE approvals (
  id           INTEGER PRIMARY KEY,
  run_id       TEXT    NOT NULL,
  call_id      TEXT    NOT NULL,
  tool         TEXT    NOT NULL,
  args_json    TEXT    NOT NULL,
  rule         TEXT    NOT NULL,
  requested_us INTEGER NOT NULL,
  deadline_us  INTEGER NOT NULL,
  status       TEXT    NOT NULL DEFAULT 'pending',
  decided_by   TEXT    NOT NULL DEFAULT '',
  reason       TEXT    NOT NULL DEFAULT '',
  decided_us   INTEGER NOT NULL DEFAULT 0,
  UNIQUE(run_id, call_id)
);
CREATE INDEX approvals_by_status ON approvals(status, deadline_us);
CREATE TABLE run_owners (
  run_id         TEXT    PRIMARY KEY,
  owner          TEXT    NOT NULL,
  lease_until_us INTEGER NOT NULL,
  acquired_us    INTEGER NOT NULL
);
CREATE INDEX run_owners_by_owner ON run_owners(owner);
ALTER TABLE runs ADD COLUMN cost_micro_usd INTEGER NOT NULL DEFAULT 0;
CREATE TABLE endpoint_health (
  key        TEXT    PRIMARY KEY,
  updated_us INTEGER NOT NULL,
  health     BLOB    NOT NULL
);
PRAGMA user_version = 6;
)sql";

/// A version-6 journal: two finished runs of tenant acme (their KPIs and
/// cost in the runs rows) and a pending approval.
struct v6_journal {
  temp_dir dir;
  std::string path = dir.file("v6.db");
  v6_journal() {
    raw_db raw(path);
    raw.exec(schema_v2);
    raw.exec(v2_to_v6);
    raw.exec("INSERT INTO runs(run_id, root_run_id, agent, tenant, status, created_us, "
             "updated_us, input_tokens, output_tokens, cost_micro_usd) VALUES "
             "('run-a', 'run-a', 'lead', 'acme', 'completed', 1700000000000000, "
             "1700000000000100, 100, 20, 700), "
             "('run-b', 'run-b', 'lead', 'acme', 'completed', 1700000000000000, "
             "1700000000000200, 1, 2, 3)");
    raw.exec("INSERT INTO approvals(run_id, call_id, tool, args_json, rule, requested_us, "
             "deadline_us) VALUES('run-b', 'c1', 'shell', '{}', 'ask-shell', 1, 2)");
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(migration)

BOOST_FIXTURE_TEST_CASE(version_1_read_only_needs_migration_and_is_untouched,
                        v1_journal) {
  auto msg = test::check_refused(path, open_mode::read_only,
                                 store_errc::needs_migration);
  BOOST_TEST(msg.find("troupe migrate") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(version_1_read_write_migrates_checksums_and_positions,
                        v1_journal) {
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_TEST(db->opened_version() == 1);
    auto rep = db->check_integrity();
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    test::log_problems(*rep);
    BOOST_TEST(rep->clean());
    BOOST_TEST(rep->runs == 2u);
    BOOST_TEST(rep->events == 10u);
    // Every row got the CRC of its body.
    auto evs = db->events("");
    BOOST_REQUIRE_MESSAGE(evs, render(evs));
    BOOST_REQUIRE_EQUAL(evs->size(), 10u);
    for (auto& ev : *evs)
      BOOST_TEST(ev.crc == checksum(ev.body.data(), ev.body.size()));
    // Positions are filled, so the writer continues each run.
    auto old_run = db->find_run("run-old");
    BOOST_REQUIRE_MESSAGE(old_run, render(old_run));
    BOOST_TEST(old_run->last_seq == 7u);
    BOOST_TEST((old_run->status == run_status::completed));
    BOOST_TEST(old_run->agent == "lead");
    auto live = db->last_seq("run-live");
    BOOST_REQUIRE_MESSAGE(live, render(live));
    BOOST_TEST(*live == 3u);
    auto err = db->append({test::seal(v1_event("run-live", 4, turn_end{1}))});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  {
    raw_db raw(path);
    BOOST_TEST(raw.scalar("PRAGMA user_version") == current_schema_version);
    BOOST_TEST(raw.scalar("PRAGMA application_id") == application_id);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE type = "
                          "'index' AND name = 'events_by_kind'")
               == 0);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM events WHERE crc = 0") == 0);
  }
  // Version 1 went through 2 to 3 in the same open: every row is chained,
  // including the one appended after the migration.
  BOOST_TEST(test::check_chained(path) == 11u);
  // A second open sees the current version and migrates nothing; read-only
  // works now.
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
BOOST_FIXTURE_TEST_CASE(version_1_migration_fills_kpis_of_completed_runs,
                        v1_journal) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto old_run = db->find_run("run-old");
  BOOST_REQUIRE_MESSAGE(old_run, render(old_run));
  BOOST_CHECK_EQUAL(old_run->totals.turns, v1_totals.turns);
  BOOST_CHECK_EQUAL(old_run->totals.wall_ms, v1_totals.wall_ms);
}

BOOST_FIXTURE_TEST_CASE(version_2_read_only_needs_migration_and_is_untouched,
                        v2_journal) {
  auto msg = test::check_refused(path, open_mode::read_only,
                                 store_errc::needs_migration);
  BOOST_TEST(msg.find("version 2") != std::string::npos, msg);
  BOOST_TEST(msg.find("troupe migrate") != std::string::npos, msg);
}

BOOST_FIXTURE_TEST_CASE(version_2_read_write_chains_every_row, v2_journal) {
  event_bytes large_before;
  {
    raw_db raw(path);
    large_before = raw.body("run-done", 4);
  }
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_TEST(db->opened_version() == 2);
    auto rep = db->check_integrity();
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    test::log_problems(*rep);
    BOOST_TEST(rep->clean());
    BOOST_TEST(rep->events == 8u);
    // The writer continues run-live's chain from the migrated hashes.
    auto err = db->append({test::seal(v1_event("run-live", 4, turn_end{1}))});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  BOOST_TEST(test::check_chained(path) == 9u);
  {
    // Bodies are in the stored form of version 8; runs rows are as they were.
    raw_db raw(path);
    BOOST_TEST(raw.scalar("PRAGMA user_version") == current_schema_version);
    auto stored = to_stored(large_before);
    BOOST_REQUIRE(stored);
    BOOST_TEST((raw.body("run-done", 4) == *stored));
    BOOST_TEST(raw.scalar("SELECT wall_ms FROM runs WHERE run_id = 'run-done'")
               == 4500);
  }
  auto ro = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(ro, render(ro));
  BOOST_TEST(ro->opened_version() == current_schema_version);
  auto rep = ro->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->clean());
  BOOST_TEST(rep->events == 9u);
}

// Version 8 rewrites every row with a fresh CRC and chain, which would bless
// damage done before: a row failing its CRC refuses the whole migration,
// naming run and seq, and the file stays at its version.
BOOST_FIXTURE_TEST_CASE(version_2_damage_refuses_the_migration_naming_run_and_seq,
                        v2_journal) {
  {
    raw_db raw(path);
    auto body = raw.body("run-done", 4);
    body[body.size() - 16] ^= 0x01;
    raw.set_body("run-done", 4, body, false);
  }
  auto before = slurp(path);
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == store_errc::corrupted);
  auto msg = render(db.error());
  BOOST_TEST(msg.find("run run-done seq 4 fails its checksum") != std::string::npos, msg);
  raw_db raw(path);
  BOOST_TEST(raw.scalar("PRAGMA user_version") == 2);
}

BOOST_FIXTURE_TEST_CASE(version_6_read_only_needs_migration_and_the_serve_stores_refuse_it,
                        v6_journal) {
  auto msg = test::check_refused(path, open_mode::read_only, store_errc::needs_migration);
  BOOST_TEST(msg.find("version 6") != std::string::npos, msg);
  auto before = slurp(path);
  auto job_db = job_store::open(path);
  BOOST_REQUIRE(!job_db);
  BOOST_CHECK(job_db.error() == store_errc::needs_migration);
  BOOST_TEST(render(job_db.error()).find("troupe migrate") != std::string::npos);
  auto tenant_db = tenant_store::open(path);
  BOOST_REQUIRE(!tenant_db);
  BOOST_CHECK(tenant_db.error() == store_errc::needs_migration);
  BOOST_TEST((slurp(path) == before));
}

BOOST_FIXTURE_TEST_CASE(version_6_read_write_adds_the_serve_tables_and_keeps_the_rest,
                        v6_journal) {
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_TEST(db->opened_version() == 6);
    auto rep = db->check_integrity();
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    test::log_problems(*rep);
    BOOST_TEST(rep->clean());
  }
  {
    raw_db raw(path);
    BOOST_TEST(raw.scalar("PRAGMA user_version") == current_schema_version);
    for (auto table : {"jobs", "tenants", "api_keys", "audit"})
      BOOST_TEST(raw.scalar(std::string("SELECT count(*) FROM ") + table) == 0, table);
    for (auto index : {"jobs_by_status", "jobs_by_tenant", "jobs_by_idempotency_key",
                       "api_keys_by_tenant", "audit_by_tenant", "runs_by_tenant"})
      BOOST_TEST(raw.scalar(std::string("SELECT count(*) FROM sqlite_schema WHERE type = "
                                        "'index' AND name = '")
                            + index + "'")
                   == 1,
                 index);
    // What was there stays as it was.
    BOOST_TEST(raw.scalar("SELECT count(*) FROM runs") == 2);
    BOOST_TEST(raw.scalar("SELECT cost_micro_usd FROM runs WHERE run_id = 'run-a'") == 700);
    BOOST_TEST(raw.scalar("SELECT count(*) FROM approvals WHERE status = 'pending'") == 1);
  }
  // The serve stores open now and read the older runs' spend.
  auto job_db = job_store::open(path);
  BOOST_REQUIRE_MESSAGE(job_db, render(job_db));
  auto usage = job_db->usage("acme", 1700000000000150, 1700000000000000);
  BOOST_REQUIRE_MESSAGE(usage, render(usage));
  BOOST_TEST(usage->tokens == 3u);
  BOOST_TEST(usage->cost_micro_usd == 703u);
  auto tenant_db = tenant_store::open(path);
  BOOST_REQUIRE_MESSAGE(tenant_db, render(tenant_db));
  jobs::tenant t;
  t.name = "acme";
  auto added = tenant_db->add_tenant(t);
  BOOST_REQUIRE_MESSAGE(added, render(added));
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
  for (auto mode : {open_mode::read_only, open_mode::read_write}) {
    BOOST_TEST_CONTEXT("mode " << test::mode_name(mode)) {
      auto msg = test::check_refused(path, mode, store_errc::newer_schema);
      BOOST_TEST(msg.find("99") != std::string::npos);
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
