#pragma once
// A raw SQLite connection for building, inspecting and damaging journal files
// behind the store's back. Every failure fails the test.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <sqlite3.h>

#include "persistence/hash_chain.hpp"
#include "schemas/codec.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::test {

class raw_db {
public:
  explicit raw_db(const std::string& path) {
    auto rc = sqlite3_open(path.c_str(), &db_);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, path << ": " << sqlite3_errstr(rc));
  }
  ~raw_db() { sqlite3_close(db_); }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  void exec(const std::string& sql) {
    char* msg = nullptr;
    auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    std::string text = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
  }

  /// The first column of the first row of `sql`.
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* st = prepare(sql);
    auto rc = sqlite3_step(st);
    auto x = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_ROW, sql << ": no row");
    return x;
  }

  /// The stored body of `run`'s event `seq` (schemas/stored_form.hpp).
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

  /// `run`'s event `seq`, decoded from its stored body and envelope.
  event event_at(const std::string& run, uint32_t seq) {
    sqlite3_stmt* st = prepare(
      "SELECT e.body, e.ts_us, r.parent_run_id, r.root_run_id FROM events e JOIN runs r "
      "ON r.id = e.run WHERE e.seq = ?2 AND r.run_id = ?1");
    sqlite3_bind_text(st, 1, run.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seq);
    BOOST_REQUIRE_MESSAGE(sqlite3_step(st) == SQLITE_ROW, "no row " << run << " " << seq);
    auto text = [&](int col) {
      auto p = sqlite3_column_text(st, col);
      return std::string(p ? reinterpret_cast<const char*>(p) : "");
    };
    auto parent = text(2), root = text(3);
    if (root == run)
      root.clear();
    event_envelope env{run, parent, root, seq, sqlite3_column_int64(st, 1)};
    auto full = from_stored(sqlite3_column_blob(st, 0),
                            static_cast<size_t>(sqlite3_column_bytes(st, 0)), env);
    sqlite3_finalize(st);
    BOOST_REQUIRE_MESSAGE(full, "run " << run << " seq " << seq << " does not unpack");
    auto ev = decode(*full);
    BOOST_REQUIRE_MESSAGE(ev, "run " << run << " seq " << seq << " does not decode");
    return *ev;
  }

  /// Replaces a row's event with `ev` in its stored form (its envelope left
  /// out); with `fix_crc` the crc column follows.
  void set_event(const std::string& run, uint32_t seq, const event& ev, bool fix_crc) {
    auto body = to_stored(encode(ev));
    BOOST_REQUIRE(body);
    set_body(run, seq, *body, fix_crc);
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

  /// Recomputes the hash chain of `run` over its rows as they are now, as a
  /// forger would after editing bodies: the chain is not keyed, so only
  /// replay can tell such a journal from a genuine one. Batches stay as they
  /// were (a link on each row that has one).
  void rechain(const std::string& run) {
    auto link = persistence::chain_seed(run);
    BOOST_REQUIRE(link);
    sqlite3_stmt* sel = prepare("SELECT id, seq, ts_us, body, length(hash) FROM events "
                                "WHERE run = (SELECT id FROM runs WHERE run_id = ?1) "
                                "ORDER BY seq");
    sqlite3_bind_text(sel, 1, run.c_str(), -1, SQLITE_TRANSIENT);
    std::vector<std::pair<int64_t, persistence::event_hash>> hashes;
    std::string batch;
    while (sqlite3_step(sel) == SQLITE_ROW) {
      persistence::add_chain_row(batch, static_cast<uint32_t>(sqlite3_column_int64(sel, 1)),
                                 sqlite3_column_int64(sel, 2), sqlite3_column_blob(sel, 3),
                                 static_cast<size_t>(sqlite3_column_bytes(sel, 3)));
      if (sqlite3_column_int64(sel, 4) == 0)
        continue;
      link = persistence::chain_next(*link, batch.data(), batch.size());
      BOOST_REQUIRE(link);
      batch.clear();
      hashes.emplace_back(sqlite3_column_int64(sel, 0), *link);
    }
    sqlite3_finalize(sel);
    for (auto& [id, hash] : hashes) {
      sqlite3_stmt* up = prepare("UPDATE events SET hash = ?2 WHERE id = ?1");
      sqlite3_bind_int64(up, 1, id);
      sqlite3_bind_blob(up, 2, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
      auto rc = sqlite3_step(up);
      sqlite3_finalize(up);
      BOOST_REQUIRE_MESSAGE(rc == SQLITE_DONE, sqlite3_errmsg(db_));
    }
  }

  /// A prepared statement; the caller finalizes it.
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    auto rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << sqlite3_errmsg(db_));
    return st;
  }

  const char* errmsg() const { return sqlite3_errmsg(db_); }

private:
  sqlite3* db_ = nullptr;
};

/// Runs `sql` on the database at `path` through a connection of its own.
inline void exec_raw(const std::string& path, const std::string& sql) {
  raw_db(path).exec(sql);
}

} // namespace troupe::test
