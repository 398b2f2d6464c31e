#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <sqlite3.h>

#include "persistence/detail/sqlite.hpp"
#include "persistence/store.hpp"
#include "schemas/errors.hpp"

namespace troupe::persistence {

/// Committed position of one run, cached by the writer.
struct run_cursor {
  int64_t rowid = 0;
  uint32_t last_seq = 0;
  event_hash last_hash{}; ///< the link on seq last_seq, or the chain seed
  std::string parent_run_id; ///< the run's envelope, as every event must carry it
  std::string root_run_id;   ///< (root empty for a top-level run)
};

struct store::impl {
  std::string path;
  open_mode mode = open_mode::read_only;
  int64_t opened_version = 0;
  sqlite3* db = nullptr;
  migration_progress progress; ///< told while a migration rewrites events
  // Writer caches; dropped after a failed transaction, because a rollback
  // may have undone rows they describe.
  std::unordered_map<std::string, run_cursor> cursors;
  detail::statement insert_event;
  detail::statement insert_run;
  detail::statement find_run_rowid;
  detail::statement find_event;
  detail::statement update_cursor;
  detail::statement complete_run;
  // Ownership (run_ownership.cpp); empty owner: append writes for anyone.
  std::string owner;
  int64_t lease_us = 0;
  detail::statement find_owner;
  detail::statement insert_owner;
  detail::statement release_owner;
  detail::statement data_version;
  /// Runs this connection found its own when it last committed. Only another
  /// connection's commit (a claim by another process) can take one away, so
  /// they stay ours while PRAGMA data_version reads `owned_as_of`.
  std::unordered_set<std::string> owned;
  int64_t owned_as_of = -1;

  ~impl() { close(); }
  void close() {
    insert_event = {};
    insert_run = {};
    find_run_rowid = {};
    find_event = {};
    update_cursor = {};
    complete_run = {};
    find_owner = {};
    insert_owner = {};
    release_owner = {};
    data_version = {};
    if (db != nullptr)
      sqlite3_close_v2(db);
    db = nullptr;
  }

  [[nodiscard]] caf::error fail(int rc, std::string_view doing) const {
    return detail::sqlite_error(db, rc, path, doing);
  }

  /// Runs SQL without results.
  [[nodiscard]] caf::error exec(std::string_view sql, std::string_view doing);
};

namespace detail {

/// Switches the file to WAL unless it is already (a file's first opener
/// does it), retrying while other processes keep it busy, for up to 5 s.
[[nodiscard]] caf::error use_wal(store::impl& s);

/// Creates the current schema in an empty database.
[[nodiscard]] caf::error create_schema(store::impl& s);

/// Brings a database at an older `from` version to the current schema, in
/// one transaction.
[[nodiscard]] caf::error migrate(store::impl& s, int64_t from);

/// Version 8's step: every event row rewritten into the stored form, its CRC
/// and the chain computed anew, each row its own batch (event_rows.cpp).
[[nodiscard]] caf::error rewrite_events(store::impl& s);

/// SQL that writes a completion's status and KPIs into its run row; bind it
/// with `bind_completion`.
inline constexpr const char* complete_run_sql =
  "UPDATE runs SET status = ?2, turns = ?3, tool_calls = ?4, "
  "model_calls = ?5, parse_failures = ?6, retries = ?7, input_tokens = ?8, "
  "output_tokens = ?9, wall_ms = ?10, tool_errors = ?11, "
  "model_errors = ?12, cost_micro_usd = ?13 WHERE id = ?1";

/// Binds `done` for run `rowid` to a statement prepared from complete_run_sql.
void bind_completion(statement& st, int64_t rowid, const completion& done);

/// Inside the batch's transaction, before may_write: forgets the runs found
/// ours if another connection committed since (PRAGMA data_version moved).
[[nodiscard]] caf::error check_owned(store::impl& s);

/// After the batch's COMMIT (`committed`) or its rollback: the runs it wrote
/// stay known as ours, except those it released; after a rollback none are.
void remember_owned(store::impl& s, bool committed,
                    const std::vector<std::string_view>& written,
                    const std::vector<std::string_view>& released);

/// Whether the writer's owner may write `ev` (see store::write_as): its run is
/// held by the owner, or `ev` is a new run's first event, which takes it.
/// Always true when no owner is set. Inside the caller's transaction, after
/// check_owned.
[[nodiscard]] caf::expected<bool> may_write(store::impl& s, const sealed_event& ev,
                                            int64_t now_us);

/// Checks one stored row: seq continuity, CRC, decode, and agreement of the
/// kind column with the event. Problems go to `rep`; the decoded event comes
/// back when it decodes (integrity.cpp).
[[nodiscard]] std::optional<event> check_row(const stored_event& row, uint32_t expected_seq,
                                             integrity_report& rep);

/// Follows one run's hash chain batch by batch (integrity.cpp): rows go in
/// in seq order; a linked row closes its batch and its link is checked.
class chain_checker {
public:
  /// Fails only when libcrypto cannot compute SHA-256.
  [[nodiscard]] caf::error start(const std::string& run_id);

  /// Adds `row`; `crc_ok` false when it failed its CRC, which is reported
  /// already: its batch's link is then not checked. Returns true when the
  /// row closed a batch. The next batch chains from the stored link, so an
  /// altered row breaks its own batch's link only.
  bool add(const stored_event& row, bool crc_ok, integrity_report& rep);

  /// Reports rows after the run's last link: a batch whose last row is gone.
  void finish(integrity_report& rep);

  /// First seq of the open batch (0 when none is open).
  uint32_t open_from() const noexcept { return first_; }

private:
  std::string run_id_;
  event_hash link_{};
  std::string rows_;
  uint32_t first_ = 0, last_ = 0;
  bool skip_ = false;
};

/// Drops the ownership row of a run that just completed.
[[nodiscard]] caf::error release_run(store::impl& s, const std::string& run_id);

/// Registers `troupe_crc32(blob)` on the connection (used by migrations).
void register_functions(sqlite3* db);

/// The runs rows (with `status`, only those) in creation order. A row whose
/// status is unknown is `store_errc::corrupted` naming the run and the value;
/// with `problems`, it is reported there instead and left out.
[[nodiscard]] caf::error list_run_rows(store::impl& s, std::optional<run_status> status,
                                       std::vector<run_info>& out,
                                       std::vector<integrity_problem>* problems);

/// Copies a hash column into `out`; false (and `out` zeroed) when the value
/// is not event_hash_size bytes long.
bool read_hash(const statement& st, int col, event_hash& out);

} // namespace detail

} // namespace troupe::persistence
