#pragma once
// The durable job queue of `troupe serve`: the `jobs` table of the journal
// database (schema version 7, docs/journal-format.md). Each store is its own
// connection and is not thread-safe; SQLite serializes writers across
// connections and processes, so two stores on one file (two dispatchers, the
// console) see each other's commits and race only through `update`'s
// compare-and-set.
//
// Durability: every write returns after its COMMIT with synchronous=FULL, so
// a submission acknowledged once `insert` returned survives kill -9 and power
// loss.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "persistence/store_errc.hpp"

namespace troupe::persistence {

/// How long an idempotency key names the job it first submitted.
inline constexpr int64_t idempotency_window_us = int64_t{24} * 3600 * 1000000;

/// One job of an `insert` batch as stored.
struct inserted_job {
  jobs::job job;         ///< the stored row (status queued, seq assigned)
  bool existing = false; ///< an earlier job with the same (tenant, key)
};

struct job_filter {
  std::string tenant;                       ///< empty: every tenant
  std::optional<jobs::job_status> status;   ///< none: every status
  std::optional<std::string> label;         ///< a label the job carries, exactly
  uint32_t limit = 100;                     ///< 1..1000
  std::string cursor;                       ///< empty: from the newest job
};

struct job_page {
  std::vector<jobs::job> jobs; ///< newest first
  std::string next_cursor;     ///< empty: no more jobs
};

struct job_counts {
  uint64_t queued = 0;
  uint64_t running = 0;
};

struct tenant_usage {
  uint64_t tokens = 0;         ///< input + output tokens since the day start
  uint64_t cost_micro_usd = 0; ///< since the month start
};

class job_store {
public:
  /// Opens the queue of the journal at `path`, which must exist at the
  /// current schema version (the journal writer, `troupe migrate` or the
  /// console's write commands create and migrate it). Errors: not_found,
  /// not_a_journal, needs_migration, newer_schema. A `read_only` store (the
  /// console's listings) fails every write and leaves the file untouched.
  [[nodiscard]] static caf::expected<job_store> open(const std::string& path,
                                                     bool read_only = false);

  job_store(job_store&&) noexcept;
  job_store& operator=(job_store&&) noexcept;
  ~job_store();

  /// Stores a batch of submissions in one transaction (the service group-
  /// commits them) and returns after its durable COMMIT, one result per job
  /// in order. Each new job is stored `queued` with the next seq. A job whose
  /// (tenant, idempotency_key) names a job submitted less than 24 h before
  /// its own `submitted_us` is not stored: that earlier job comes back with
  /// `existing` (also for a repeat within the batch). `submitted_us` 0 is
  /// stamped with the clock. Every job needs a job_id, run_id, tenant and
  /// scenario: otherwise invalid_argument naming the job, and nothing is
  /// stored; so does a job_id or run_id already taken (conflict).
  [[nodiscard]] caf::expected<std::vector<inserted_job>>
  insert(std::vector<jobs::job> batch);

  [[nodiscard]] caf::expected<std::optional<jobs::job>> get(const std::string& job_id);
  [[nodiscard]] caf::expected<std::optional<jobs::job>>
  get_by_run(const std::string& run_id);

  /// A page of jobs, newest first. `limit` outside 1..1000 and a cursor this
  /// store did not hand out are invalid_argument. Following next_cursor until
  /// it is empty visits every job that matched once, also while new jobs
  /// arrive (they are newer than the first page).
  [[nodiscard]] caf::expected<job_page> list(const job_filter& filter);

  /// Every queued job by lane (high first), then seq: the dispatcher's view.
  [[nodiscard]] caf::expected<std::vector<jobs::job>> queued();
  /// Every running job by seq (after a restart: the runs to resume).
  [[nodiscard]] caf::expected<std::vector<jobs::job>> running();

  /// Compare-and-set: writes `j.status` and its mutable fields (started_us,
  /// ended_us, attempts, starts, not_before_us, sla_breached, error) to the row of
  /// `j.job_id` only if that row's status is still `expected_from`. Returns
  /// whether it wrote; false also when there is no such job.
  [[nodiscard]] caf::expected<bool> update(const jobs::job& j,
                                           jobs::job_status expected_from);

  /// The tenant's jobs waiting and running now.
  [[nodiscard]] caf::expected<job_counts> counts(const std::string& tenant);

  /// What the tenant's runs spent, from the journal's `runs` rows (their
  /// `tenant`, from each run's run_start): tokens of runs whose row was last
  /// written at or after `day_start_us`, cost of those at or after
  /// `month_start_us`. The runs table carries a run's tokens and cost from
  /// its completion on, so a run still going counts 0 here; the caller adds
  /// what its live runs spent.
  [[nodiscard]] caf::expected<tenant_usage>
  usage(const std::string& tenant, int64_t day_start_us, int64_t month_start_us);

private:
  struct impl;
  explicit job_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
