#pragma once
// Version 1 of the journal schema, for building the files older builds left
// behind. Written down here on purpose rather than derived from the current
// DDL: the tests must keep describing the files already out there.

#include <cstdint>
#include <string>

#include <boost/test/unit_test.hpp>
#include <sqlite3.h>

#include "schemas/codec.hpp"
#include "schemas/event.hpp"
#include "test/support/raw_sqlite.hpp"

namespace troupe::test {

/// The whole version-1 DDL, application id and user_version included.
inline constexpr const char* schema_v1 = R"sql(
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

/// Inserts `ev` as a version-1 events row (no crc column) of the runs row
/// `run`, at `ev.seq`.
inline void insert_v1_event(raw_db& raw, int64_t run, const event& ev) {
  auto bytes = encode(ev);
  auto kind = std::string(to_string(ev.kind()));
  sqlite3_stmt* st = raw.prepare(
    "INSERT INTO events(run, seq, kind, ts_us, body) VALUES(?,?,?,?,?)");
  sqlite3_bind_int64(st, 1, run);
  sqlite3_bind_int64(st, 2, ev.seq);
  sqlite3_bind_text(st, 3, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, ev.ts_us);
  sqlite3_bind_blob(st, 5, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  auto rc = sqlite3_step(st);
  sqlite3_finalize(st);
  BOOST_REQUIRE_MESSAGE(rc == SQLITE_DONE, raw.errmsg());
}

} // namespace troupe::test
