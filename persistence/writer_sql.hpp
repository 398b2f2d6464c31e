#pragma once
// The statements the journal's writer runs for every batch (store.cpp), in
// one place so that the benches' SQLite-alone floors run exactly these
// (tools/troupe/bench_floor.cpp, bench_journal.cpp).

namespace troupe::persistence::writer_sql {

/// ?1 run (runs.id), ?2 seq, ?3 kind, ?4 ts_us, ?5 stored body, ?6 crc,
/// ?7 hash link (empty inside a batch).
inline constexpr const char* insert_event =
  "INSERT INTO events(run, seq, kind, ts_us, body, crc, hash) "
  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// ?1 run_id, ?2 parent_run_id, ?3 root_run_id, ?4 agent, ?5 tenant,
/// ?6 created_us (also the first updated_us).
inline constexpr const char* insert_run =
  "INSERT INTO runs(run_id, parent_run_id, root_run_id, agent, tenant, "
  "created_us, updated_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)";

/// ?1 runs.id, ?2 its last seq, ?3 the newest event's ts_us.
inline constexpr const char* update_position =
  "UPDATE runs SET last_seq = ?2, updated_us = max(updated_us, ?3) "
  "WHERE id = ?1";

} // namespace troupe::persistence::writer_sql
