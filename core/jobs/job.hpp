#pragma once
// The vocabulary of `troupe serve`: jobs (a submitted run waiting in the
// durable queue), tenants, API keys and their roles. Plain types shared by
// the pure decisions (core/jobs/*), the stores (persistence/job_store.hpp,
// persistence/tenant_store.hpp) and the HTTP service.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::jobs {

/// A job's lifecycle. `accepted` lasts only until the submission is durable;
/// every state after `running` is final except `dead`, which an operator may
/// requeue.
enum class job_status : uint8_t {
  accepted,
  queued,
  running,
  completed, ///< the run ended completed
  failed,    ///< the run ended failed, or an infrastructure failure retried out
  canceled,
  expired,   ///< its deadline passed before it started
  dead,      ///< dead-lettered after max attempts of infrastructure failures
};

[[nodiscard]] std::string_view to_string(job_status s);
[[nodiscard]] std::optional<job_status> job_status_from(std::string_view s);
[[nodiscard]] bool is_final(job_status s); ///< nothing more happens to it (dead: until requeued)

/// Priority lanes, highest first. A lane's wait ages its jobs upward so a
/// flood of `high` never starves `low` (core/jobs/job_scheduling.hpp).
enum class job_priority : uint8_t { high, normal, low };

[[nodiscard]] std::string_view to_string(job_priority p);
[[nodiscard]] std::optional<job_priority> job_priority_from(std::string_view s);

struct job {
  std::string job_id;  ///< "job-<random hex>"
  std::string run_id;  ///< chosen at submission; the run gets this id
  std::string tenant;
  std::string key_id;  ///< the API key that submitted it (audit)
  std::string scenario; ///< a scenario name from the server's directory
  std::string task;
  job_priority priority = job_priority::normal;
  std::vector<std::string> labels;
  std::string idempotency_key; ///< empty: none
  job_status status = job_status::accepted;
  int64_t submitted_us = 0;
  int64_t deadline_us = 0;  ///< 0: none; else must start (and should end) by then
  int64_t started_us = 0;
  int64_t ended_us = 0;
  int64_t not_before_us = 0; ///< a retry waits until then (backoff)
  uint32_t attempts = 0;     ///< starts since it was submitted or last requeued
  /// Runs ever started for it: names each attempt's run (a requeue resets
  /// `attempts`, never this, so no run id is used twice).
  uint32_t starts = 0;
  bool sla_breached = false;
  std::string error; ///< why it failed, expired or died
  uint64_t seq = 0;  ///< submission order, given by the store
};

/// What an API key may do. Each role includes the ones below it.
enum class role : uint8_t { viewer, submitter, operator_, admin };

[[nodiscard]] std::string_view to_string(role r);
[[nodiscard]] std::optional<role> role_from(std::string_view s);

/// Per-tenant quotas; 0 means unlimited.
struct tenant_quota {
  uint32_t max_concurrent_runs = 0;
  uint32_t submissions_per_minute = 0; ///< token bucket, burst = one minute's worth
  uint64_t tokens_per_day = 0;
  uint64_t cost_micro_usd_per_month = 0;
  uint32_t max_queued = 0; ///< jobs waiting at once
};

struct tenant {
  std::string name;
  tenant_quota quota;
  std::string policy_file; ///< empty: the scenario's own policy
  int64_t created_us = 0;
};

struct api_key {
  std::string key_id; ///< public part, e.g. "k_3f9a2c1d"
  std::string tenant;
  role key_role = role::viewer;
  int64_t created_us = 0;
  int64_t revoked_us = 0; ///< 0: active
};

} // namespace troupe::jobs
