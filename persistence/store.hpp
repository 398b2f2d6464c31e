#pragma once
// The SQLite journal store: schema, migrations, the batch writer and the
// readers. One `store` is one connection; it is not thread-safe. The journal
// actor owns the only read-write store of a database; readers open their own.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/hash_chain.hpp"
#include "persistence/store_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/event.hpp"

struct sqlite3;

namespace troupe::persistence {

/// The schema version this build writes. Older files migrate (read-write
/// opens only); newer files are refused by name and version.
inline constexpr int64_t current_schema_version = 8;

/// `PRAGMA application_id` of troupe journals ("TRUP").
inline constexpr int64_t application_id = 0x54525550;

enum class open_mode : uint8_t {
  read_only,  ///< never writes; a missing file or an old schema is an error
  read_write, ///< creates the file if needed and migrates older schemas
};

/// One row of the runs table.
struct run_info {
  std::string run_id;
  std::string parent_run_id;
  std::string root_run_id;
  std::string agent;
  std::string tenant;
  run_status status = run_status::running;
  int64_t created_us = 0;
  int64_t updated_us = 0;
  uint32_t last_seq = 0;
  kpis totals;
};

/// One row of the events table.
struct stored_event {
  std::string run_id;
  uint32_t seq = 0;
  std::string kind;
  int64_t ts_us = 0;
  /// The whole event as `encode` gives it: the stored body with the envelope
  /// put back from the row and its run. Empty when the body does not unpack
  /// (doctor and verified loading report why).
  event_bytes bytes;
  /// The body as stored (schemas/stored_form.hpp); crc and hash cover these.
  event_bytes body;
  /// The run's ids as the envelope holds them (root empty for a top-level run).
  std::string parent_run_id;
  std::string root_run_id;
  uint32_t crc = 0;
  /// Whether the row ends a commit batch of its run and so carries a link.
  bool linked = false;
  /// The batch's link of the run's hash chain (persistence/hash_chain.hpp);
  /// all zero when the row carries none or the stored value is not 32 bytes.
  event_hash hash{};
};

/// An event whose seq the journal has stamped, ready to be written.
struct sealed_event {
  sealed_event() = default;
  sealed_event(event_header h, event_bytes whole, event_bytes stored_form = {})
    : header(std::move(h)), bytes(std::move(whole)), stored(std::move(stored_form)) {}

  event_header header;
  /// The whole encoded event (`encode`); its own envelope seq is not read.
  /// May be empty when `stored` is set.
  event_bytes bytes;
  /// The body as the events table keeps it (schemas/stored_form.hpp), when
  /// the appender made it: runs do, on their own threads, so the journal's
  /// single writer neither parses nor packs their events. Empty: `append`
  /// makes it from `bytes`. (`import_events` reads `bytes` only.)
  event_bytes stored;
};

struct integrity_problem {
  std::string run_id; ///< empty for file-level problems
  uint32_t seq = 0;   ///< 0 when the problem is not about one event
  std::string what;
};

struct integrity_report {
  uint64_t runs = 0;
  uint64_t events = 0;
  std::vector<integrity_problem> problems;
  [[nodiscard]] bool clean() const noexcept { return problems.empty(); }
};

/// What store::import_events did.
/// Told how far a migration that rewrites every event has come.
using migration_progress = std::function<void(uint64_t done, uint64_t total)>;

struct import_report {
  uint64_t runs = 0;    ///< distinct runs among the imported events
  uint64_t written = 0; ///< events written (new to this journal)
  uint64_t present = 0; ///< events skipped: already stored, identical
};

class store {
public:
  /// Opens (or, read-write, creates) the journal at `path`. Errors name the
  /// path: not_found, not_a_journal, newer_schema, needs_migration, corrupted.
  /// A migration that rewrites the events tells `progress` as it goes.
  [[nodiscard]] static caf::expected<store> open(const std::string& path,
                                                 open_mode mode,
                                                 const migration_progress& progress = {});

  store(store&&) noexcept;
  store& operator=(store&&) noexcept;
  ~store();

  const std::string& path() const noexcept;

  /// Schema version found on disk when the store was opened.
  int64_t opened_version() const noexcept;

  // -- writer (read-write stores only) ---------------------------------------

  /// Last committed seq of `run_id` (0 for a run with no events).
  [[nodiscard]] caf::expected<uint32_t> last_seq(const std::string& run_id);

  /// Writes the batch in one transaction and returns after COMMIT
  /// (synchronous=FULL: durable on return). Each event's seq must continue
  /// its run contiguously, else sequence_gap and nothing is written; its
  /// parent_run_id and root_run_id must be its run's (stored once, in the
  /// runs row), else envelope_mismatch and nothing is written. Each run's
  /// rows of the batch get one hash chain link, on the last of them. On any
  /// error the transaction is rolled back. After `write_as`, the events of
  /// runs the owner does not hold are left out and their runs listed in
  /// `refused`; the rest is written.
  [[nodiscard]] caf::error append(const std::vector<sealed_event>& batch,
                                  std::vector<std::string>* refused = nullptr);

  // -- run ownership (persistence/run_owner.hpp) ------------------------------

  /// From now on this store writes as `owner`: a run's first event makes
  /// `owner` its holder for `lease_us`; other runs must be claimed first.
  [[nodiscard]] caf::error write_as(std::string owner, int64_t lease_us);

  /// Takes `run_id` for the writer's owner until `now_us` + lease, when no
  /// one holds it, the lease expired, the holder is known to be gone, or it
  /// is held by this owner already. Otherwise run_owned (naming the holder
  /// and its lease), run_finished, or unknown_run.
  [[nodiscard]] caf::error claim_run(const std::string& run_id, int64_t now_us);

  /// Extends every lease the writer's owner holds to `now_us` + lease.
  [[nodiscard]] caf::error renew_leases(int64_t now_us);

  /// Writes events that carry their seqs already (an export read back), in
  /// one transaction, and returns after COMMIT. Idempotent: an event whose
  /// (run, seq) is stored with identical bytes is skipped (so are bytes that
  /// an older build laid out differently but that decode to the same event;
  /// the stored row is kept as it is). All or nothing:
  /// - a stored event that differs: import_conflict naming run and seq;
  /// - within the input, each run's events must count up by one, and the
  ///   first one not yet stored must be the run's next seq: sequence_gap.
  /// - an event whose parent_run_id or root_run_id differs from its run's:
  ///   envelope_mismatch naming run and seq.
  /// New runs get their runs row as append gives it (agent and tenant from
  /// run_start, status and KPIs from completion); each run's new rows
  /// continue its hash chain as one batch.
  [[nodiscard]] caf::expected<import_report>
  import_events(const std::vector<sealed_event>& events);

  // -- readers ---------------------------------------------------------------

  [[nodiscard]] caf::expected<std::vector<run_info>>
  list_runs(std::optional<run_status> status = std::nullopt);

  [[nodiscard]] caf::expected<run_info> find_run(const std::string& run_id);

  /// Every run whose root is `root_run_id` (the root itself included), in
  /// table order: a delegation tree's rows (persistence/run_tree.hpp).
  [[nodiscard]] caf::expected<std::vector<run_info>>
  list_tree(const std::string& root_run_id);

  /// Events of `run_id` in seq order; with `kind`, only that kind. An empty
  /// `run_id` reads every run (ordered by run, then seq).
  [[nodiscard]] caf::expected<std::vector<stored_event>>
  events(const std::string& run_id, std::optional<event_kind> kind = {});

  /// Visits events of `run_id` in seq order without holding them all.
  [[nodiscard]] caf::error
  for_each_event(const std::string& run_id,
                 const std::function<caf::error(const stored_event&)>& fn);

  /// Visits the events of one run in seq order, each row verified before
  /// `fn` sees it: seqs contiguous from 1, checksum, decode, kind column, and
  /// the hash chain link of its batch (so `fn` sees a batch's rows once its
  /// last row is read). The first damaged row stops the visit
  /// with `corrupted`, naming the file, run and seq: resume, replay, show and
  /// export never fold a damaged run (the rest of the journal stays usable).
  [[nodiscard]] caf::error
  for_each_verified_event(const std::string& run_id,
                          const std::function<caf::error(const stored_event&, event&)>& fn);

  /// The run's events, verified (for_each_verified_event) and decoded;
  /// unknown_run when the journal has none.
  [[nodiscard]] caf::expected<std::vector<event>> load_run(const std::string& run_id);

  /// SQLite's integrity_check, per-run seq contiguity, checksum and decode of
  /// every row, its kind column, each batch's hash chain link, and
  /// runs.last_seq against the last event of each run.
  [[nodiscard]] caf::expected<integrity_report> check_integrity();

  /// The connection and its prepared statements (persistence/detail only).
  struct impl;

private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
