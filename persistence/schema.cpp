// The journal's SQL schema and its migrations. docs/journal-format.md
// describes every version; a migration only ever adds.

#include <string>

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence::detail {

namespace {

// Integer rowid keys everywhere: measured here, inserting into a rowid table
// with a secondary (run, seq) index is ~30x faster than a WITHOUT ROWID table
// keyed by (run_id TEXT, seq). Events reference runs by their integer rowid.
constexpr const char* schema_v3 = R"sql(
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
  crc    INTEGER NOT NULL,
  hash   BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_by_run_seq ON events(run, seq);
CREATE INDEX events_by_kind ON events(kind, run);
)sql";

// Version 1 had neither checksums nor KPI columns. Version 2 adds them and
// fills them from the rows already there.
constexpr const char* migrate_1_to_2 = R"sql(
ALTER TABLE runs ADD COLUMN last_seq       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN turns          INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN tool_calls     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN model_calls    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN parse_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retries        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN input_tokens   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN output_tokens  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN wall_ms        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN tool_errors    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN model_errors   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
UPDATE events SET crc = troupe_crc32(body);
UPDATE runs SET last_seq = (SELECT ifnull(max(seq), 0) FROM events
                            WHERE events.run = runs.id);
CREATE INDEX events_by_kind ON events(kind, run);
)sql";

// Version 3 chains every row to the one before it (persistence/hash_chain.hpp).
// SQLite cannot add a NOT NULL column without a default; the empty default is
// never kept: fill_hashes writes every row before the migration commits.
constexpr const char* migrate_2_to_3 = R"sql(
ALTER TABLE events ADD COLUMN hash BLOB NOT NULL DEFAULT x'';
)sql";

void crc32_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto p = sqlite3_value_blob(argv[0]);
  auto n = static_cast<size_t>(sqlite3_value_bytes(argv[0]));
  sqlite3_result_int64(ctx, checksum(p, n));
}

// Version 1 kept completion events but had no KPI columns: fold each run's
// completion into its row, as the writer does for new completions.
caf::error fill_kpis_from_completions(store::impl& s) {
  detail::statement sel, up;
  if (auto rc = sel.prepare(s.db, "SELECT e.run, e.seq, e.body, r.run_id "
                                  "FROM events e JOIN runs r ON r.id = e.run "
                                  "WHERE e.kind = 'completion' ORDER BY e.id");
      rc != SQLITE_OK)
    return s.fail(rc, "reading completions to migrate");
  if (auto rc = up.prepare(s.db, complete_run_sql); rc != SQLITE_OK)
    return s.fail(rc, "preparing the KPI migration");
  int rc;
  while ((rc = sel.step()) == SQLITE_ROW) {
    auto ev = decode(sel.blob_at(2), sel.bytes_at(2),
                     "run " + sel.text_at(3) + " seq "
                       + std::to_string(sel.int_at(1)));
    if (!ev)
      return std::move(ev.error());
    // The kind column is not the body: trust only what decodes.
    auto done_p = std::get_if<completion>(&ev->body);
    if (done_p == nullptr)
      return caf::make_error(store_errc::corrupted,
                             s.path + ": run " + sel.text_at(3) + " seq "
                               + std::to_string(sel.int_at(1))
                               + " is marked completion but is not one; "
                                 "run `troupe doctor`");
    bind_completion(up, sel.int_at(0), *done_p);
    auto urc = up.step();
    up.reset();
    if (urc != SQLITE_DONE)
      return s.fail(urc, "migrating the KPIs of run " + sel.text_at(3));
  }
  return rc == SQLITE_DONE ? caf::error{}
                           : s.fail(rc, "reading completions to migrate");
}

// Computes the chain of every run over the rows as they are, in seq order.
// Rows damaged before the migration are chained as found: their CRC (and any
// seq gap) still tells `troupe doctor` about them.
caf::error fill_hashes(store::impl& s) {
  detail::statement sel, up;
  if (auto rc = sel.prepare(s.db, "SELECT e.id, r.run_id, e.body FROM events e "
                                  "JOIN runs r ON r.id = e.run "
                                  "ORDER BY e.run, e.seq");
      rc != SQLITE_OK)
    return s.fail(rc, "reading events to chain");
  if (auto rc = up.prepare(s.db, "UPDATE events SET hash = ?2 WHERE id = ?1");
      rc != SQLITE_OK)
    return s.fail(rc, "preparing the hash migration");
  std::string run;
  event_hash prev{};
  int rc;
  // Updating rows the SELECT has passed is safe: it changes no column the
  // scan orders or filters by.
  while ((rc = sel.step()) == SQLITE_ROW) {
    if (run.empty() || sel.text_at(1) != run) {
      run = sel.text_at(1);
      auto seed = chain_seed(run);
      if (!seed)
        return std::move(seed.error());
      prev = *seed;
    }
    auto hash = chain_next(prev, sel.blob_at(2), sel.bytes_at(2));
    if (!hash)
      return std::move(hash.error());
    prev = *hash;
    up.bind(1, sel.int_at(0));
    up.bind_blob(2, prev.data(), prev.size());
    auto urc = up.step();
    up.reset();
    if (urc != SQLITE_DONE)
      return s.fail(urc, "writing the hash chain of run " + run);
  }
  return rc == SQLITE_DONE ? caf::error{}
                           : s.fail(rc, "reading events to chain");
}

// Version 4 adds the approvals table: human decisions on `ask` calls, written
// by the approvals actor and by `troupe approve|deny` from other processes.
constexpr const char* migrate_3_to_4 = R"sql(
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
)sql";

// Version 5 gives each unfinished run one owner: the process driving it
// holds a lease it renews; another process may take the run over only once
// the lease expired or its holder is known to be gone (persistence/run_owner.hpp).
constexpr const char* migrate_4_to_5 = R"sql(
CREATE TABLE run_owners (
  run_id         TEXT    PRIMARY KEY,
  owner          TEXT    NOT NULL,
  lease_until_us INTEGER NOT NULL,
  acquired_us    INTEGER NOT NULL
);
CREATE INDEX run_owners_by_owner ON run_owners(owner);
)sql";

// Version 6: what runs spent on model replies, and the health of each
// endpoint:model pair the gateway saw (its EWMAs, breaker and latency window,
// as one row), so that a restart keeps a failing endpoint quarantined and
// `troupe models` shows what the last process knew.
constexpr const char* migrate_5_to_6 = R"sql(
ALTER TABLE runs ADD COLUMN cost_micro_usd INTEGER NOT NULL DEFAULT 0;
CREATE TABLE endpoint_health (
  key        TEXT    PRIMARY KEY,
  updated_us INTEGER NOT NULL,
  health     BLOB    NOT NULL
);
)sql";

// Version 7: what `troupe serve` keeps. The durable job queue (seq is the
// rowid: submission order; priority is the lane's ordinal, 0 high, 1 normal,
// 2 low, so the dispatcher's index sorts lanes in order), tenants with their
// quotas, API keys (only a SHA-256 of the secret) and the audit log of every
// state-changing call. The idempotency index is not unique: a key names one
// job for 24 h only, then the same key submits anew. runs_by_tenant serves
// the quota check at every submission (a tenant's spend in a window).
constexpr const char* migrate_6_to_7 = R"sql(
CREATE TABLE jobs (
  seq             INTEGER PRIMARY KEY,
  job_id          TEXT    NOT NULL UNIQUE,
  run_id          TEXT    NOT NULL UNIQUE,
  tenant          TEXT    NOT NULL,
  key_id          TEXT    NOT NULL DEFAULT '',
  scenario        TEXT    NOT NULL,
  task            TEXT    NOT NULL DEFAULT '',
  priority        INTEGER NOT NULL DEFAULT 1,
  labels          TEXT    NOT NULL DEFAULT '[]',
  idempotency_key TEXT    NOT NULL DEFAULT '',
  status          TEXT    NOT NULL DEFAULT 'queued',
  submitted_us    INTEGER NOT NULL,
  deadline_us     INTEGER NOT NULL DEFAULT 0,
  started_us      INTEGER NOT NULL DEFAULT 0,
  ended_us        INTEGER NOT NULL DEFAULT 0,
  not_before_us   INTEGER NOT NULL DEFAULT 0,
  attempts        INTEGER NOT NULL DEFAULT 0,
  starts          INTEGER NOT NULL DEFAULT 0,
  sla_breached    INTEGER NOT NULL DEFAULT 0,
  error           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX jobs_by_status ON jobs(status, priority, seq);
CREATE INDEX jobs_by_tenant ON jobs(tenant, status);
CREATE INDEX jobs_by_idempotency_key ON jobs(tenant, idempotency_key)
  WHERE idempotency_key != '';
CREATE TABLE tenants (
  id                       INTEGER PRIMARY KEY,
  name                     TEXT    NOT NULL UNIQUE,
  max_concurrent_runs      INTEGER NOT NULL DEFAULT 0,
  submissions_per_minute   INTEGER NOT NULL DEFAULT 0,
  tokens_per_day           INTEGER NOT NULL DEFAULT 0,
  cost_micro_usd_per_month INTEGER NOT NULL DEFAULT 0,
  max_queued               INTEGER NOT NULL DEFAULT 0,
  policy_file              TEXT    NOT NULL DEFAULT '',
  created_us               INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id          INTEGER PRIMARY KEY,
  key_id      TEXT    NOT NULL UNIQUE,
  tenant      TEXT    NOT NULL,
  role        TEXT    NOT NULL,
  secret_hash BLOB    NOT NULL,
  created_us  INTEGER NOT NULL,
  revoked_us  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant);
CREATE TABLE audit (
  id      INTEGER PRIMARY KEY,
  ts_us   INTEGER NOT NULL,
  tenant  TEXT    NOT NULL DEFAULT '',
  key_id  TEXT    NOT NULL DEFAULT '',
  action  TEXT    NOT NULL,
  target  TEXT    NOT NULL DEFAULT '',
  detail  TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_tenant ON audit(tenant, id);
CREATE INDEX runs_by_tenant ON runs(tenant, updated_us);
)sql";

// Version 8 stores each event in its packed form without the envelope, one
// hash chain link per commit batch and run (rewrite_events does the rows).
// events_by_kind goes: nothing reads it since the version-1 migration, which
// runs before this step; it cost a B-tree insert and ~20 bytes per event.
constexpr const char* migrate_7_to_8 = R"sql(
DROP INDEX IF EXISTS events_by_kind;
)sql";

caf::error set_version(store::impl& s, int64_t version) {
  return s.exec("PRAGMA user_version = " + std::to_string(version),
                "setting the schema version");
}

} // namespace

void bind_completion(statement& st, int64_t rowid, const completion& done) {
  auto& k = done.totals;
  int64_t values[] = {k.turns, k.tool_calls, k.model_calls, k.parse_failures,
                      k.retries, static_cast<int64_t>(k.input_tokens),
                      static_cast<int64_t>(k.output_tokens),
                      static_cast<int64_t>(k.wall_ms), k.tool_errors,
                      k.model_errors, static_cast<int64_t>(k.cost_micro_usd)};
  st.bind(1, rowid);
  st.bind(2, to_string(done.status));
  for (int i = 0; i < 11; ++i)
    st.bind(3 + i, values[i]);
}

void register_functions(sqlite3* db) {
  sqlite3_create_function(db, "troupe_crc32", 1,
                          SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          crc32_function, nullptr, nullptr);
}

// Runs inside the caller's transaction (see check_version in store.cpp), so
// two processes creating the same fresh file cannot both try.
caf::error create_schema(store::impl& s) {
  auto err = s.exec(schema_v3, "creating the journal schema");
  if (!err)
    err = s.exec(migrate_3_to_4, "creating the approvals table");
  if (!err)
    err = s.exec(migrate_4_to_5, "creating the run owners table");
  if (!err)
    err = s.exec(migrate_5_to_6, "creating the cost column and the endpoint health table");
  if (!err)
    err = s.exec(migrate_6_to_7, "creating the jobs, tenants, api_keys and audit tables");
  if (!err)
    err = s.exec(migrate_7_to_8, "dropping the unread kind index");
  if (!err)
    err = s.exec("PRAGMA application_id = " + std::to_string(application_id),
                 "tagging the file as a troupe journal");
  if (!err)
    err = set_version(s, current_schema_version);
  return err;
}

// Runs inside the caller's transaction: each step brings the file one
// version up, and a failure anywhere rolls all of them back, leaving the file
// at `from`.
caf::error migrate(store::impl& s, int64_t from) {
  if (from < 1)
    return caf::make_error(store_errc::not_a_journal,
                           s.path + ": troupe's application id but schema "
                                    "version "
                             + std::to_string(from)
                             + ", which no troupe ever wrote");
  caf::error err;
  if (from <= 1)
    err = s.exec(migrate_1_to_2, "migrating schema version 1 to 2");
  if (!err && from <= 2)
    err = s.exec(migrate_2_to_3, "migrating schema version 2 to 3");
  if (!err && from <= 2)
    err = fill_hashes(s);
  if (!err && from <= 3)
    err = s.exec(migrate_3_to_4, "migrating schema version 3 to 4");
  if (!err && from <= 4)
    err = s.exec(migrate_4_to_5, "migrating schema version 4 to 5");
  if (!err && from <= 5)
    err = s.exec(migrate_5_to_6, "migrating schema version 5 to 6");
  if (!err && from <= 6)
    err = s.exec(migrate_6_to_7, "migrating schema version 6 to 7");
  // After every step that adds KPI columns (it writes them all), before the
  // events are rewritten (it reads version-7 bodies through the kind index).
  if (!err && from <= 1)
    err = fill_kpis_from_completions(s);
  if (!err && from <= 7)
    err = rewrite_events(s);
  if (!err && from <= 7)
    err = s.exec(migrate_7_to_8, "migrating schema version 7 to 8");
  if (!err)
    err = set_version(s, current_schema_version);
  return err;
}

} // namespace troupe::persistence::detail
