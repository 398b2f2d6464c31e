// The step from schema version 7 to 8 on a journal troupe wrote at version 7
// (test/fixtures/journal-v7.sql): every event rewritten in its stored form
// and read back the same, and rows that must not be rewritten (a body that
// does not decode, an envelope of another run) refusing the whole migration.

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "persistence/hash_chain.hpp"
#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/stored_form.hpp"
#include "test/persistence/chain_support.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::raw_db;
using test::slurp;
using test::temp_dir;

namespace {

/// The version-7 fixture (test/fixtures/journal-v7.sql, written by the
/// troupe before version 8) as a journal file.
struct v7_journal {
  temp_dir dir;
  std::string path = dir.file("v7.db");
  v7_journal() { raw_db{path}.exec(slurp(std::string(TROUPE_FIXTURES) + "/journal-v7.sql")); }
};

/// Every event of a version-7 file, decoded from its bodies, in run and seq order.
std::vector<event> v7_events(const std::string& path) {
  raw_db raw(path);
  auto* st = raw.prepare("SELECT body FROM events ORDER BY run, seq");
  std::vector<event> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto ev = decode(sqlite3_column_blob(st, 0), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    out.push_back(std::move(*ev));
  }
  sqlite3_finalize(st);
  return out;
}

/// Replaces a version-7 row's body, then fixes its CRC and recomputes its run's
/// per-row chain, as a forger (or a bug) would: only decoding can tell.
void forge_v7_row(const std::string& path, const std::string& run, uint32_t seq,
                  const event_bytes& body) {
  raw_db raw(path);
  raw.set_body(run, seq, body, true);
  auto link = chain_seed(run);
  BOOST_REQUIRE(link);
  auto* sel = raw.prepare("SELECT id, body FROM events WHERE run = (SELECT id FROM runs "
                          "WHERE run_id = ?1) ORDER BY seq");
  sqlite3_bind_text(sel, 1, run.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::pair<int64_t, event_hash>> links;
  while (sqlite3_step(sel) == SQLITE_ROW) {
    link = chain_next(*link, sqlite3_column_blob(sel, 1),
                      static_cast<size_t>(sqlite3_column_bytes(sel, 1)));
    BOOST_REQUIRE(link);
    links.emplace_back(sqlite3_column_int64(sel, 0), *link);
  }
  sqlite3_finalize(sel);
  for (auto& [id, h] : links) {
    auto* up = raw.prepare("UPDATE events SET hash = ?2 WHERE id = ?1");
    sqlite3_bind_int64(up, 1, id);
    sqlite3_bind_blob(up, 2, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    BOOST_REQUIRE(sqlite3_step(up) == SQLITE_DONE);
    sqlite3_finalize(up);
  }
}

/// The refusal of a version-7 file's migration; the file stays at version 7.
std::string refused_v7(const std::string& path) {
  auto before = slurp(path);
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(db.error() == store_errc::corrupted);
  raw_db raw(path);
  BOOST_TEST(raw.scalar("PRAGMA user_version") == 7);
  BOOST_TEST(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'events_by_kind'")
             == 1);
  return render(db.error());
}

} // namespace

BOOST_AUTO_TEST_SUITE(migration_v7)

BOOST_FIXTURE_TEST_CASE(version_7_rewrites_every_event_and_reads_back_the_same, v7_journal) {
  auto before = v7_events(path);
  BOOST_REQUIRE(!before.empty());
  uint64_t last_done = 0, last_total = 0;
  {
    auto db = store::open(path, open_mode::read_write, [&](uint64_t done, uint64_t total) {
      BOOST_TEST(done >= last_done);
      last_done = done;
      last_total = total;
    });
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_TEST(db->opened_version() == 7);
  }
  BOOST_TEST(last_total == before.size());
  BOOST_TEST(last_done == before.size());
  // Each old row is a batch of its own.
  BOOST_TEST(test::check_chained(path) == before.size());
  auto ro = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(ro, render(ro));
  auto rep = ro->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  test::log_problems(*rep);
  BOOST_TEST(rep->clean());
  auto rows = ro->events("");
  BOOST_REQUIRE_MESSAGE(rows, render(rows));
  BOOST_REQUIRE_EQUAL(rows->size(), before.size());
  for (size_t i = 0; i < rows->size(); ++i) {
    auto& row = (*rows)[i];
    auto ev = decode(row.bytes);
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    BOOST_TEST((encode(*ev) == encode(before[i])), "run " << row.run_id << " seq " << row.seq);
    BOOST_TEST(row.body.size() < encode(before[i]).size());
  }
  raw_db raw(path);
  BOOST_TEST(raw.scalar("PRAGMA user_version") == 8);
  BOOST_TEST(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'events_by_kind'") == 0);
}

BOOST_FIXTURE_TEST_CASE(version_7_row_that_does_not_decode_refuses_the_migration, v7_journal) {
  std::string run;
  {
    raw_db raw(path);
    auto* st = raw.prepare("SELECT run_id FROM runs ORDER BY id LIMIT 1");
    BOOST_REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    run = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  event_bytes garbage(48);
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<char>(0xA5 ^ (i * 37));
  forge_v7_row(path, run, 2, garbage);
  auto msg = refused_v7(path);
  BOOST_TEST(msg.find("run " + run + " seq 2 does not decode") != std::string::npos, msg);
  BOOST_TEST(msg.find("nothing was changed") != std::string::npos, msg);
}

BOOST_FIXTURE_TEST_CASE(version_7_row_with_another_envelope_refuses_the_migration,
                        v7_journal) {
  std::string run;
  {
    raw_db raw(path);
    auto* st = raw.prepare("SELECT run_id FROM runs ORDER BY id LIMIT 1");
    BOOST_REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    run = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  auto ev = decode(raw_db(path).body(run, 3));
  BOOST_REQUIRE_MESSAGE(ev, render(ev));
  ev->parent_run_id = "someone-else";
  forge_v7_row(path, run, 3, encode(*ev));
  auto msg = refused_v7(path);
  BOOST_TEST(msg.find("run " + run + " seq 3 names parent run 'someone-else'")
               != std::string::npos, msg);
}

BOOST_AUTO_TEST_SUITE_END()
