#pragma once
// The job as the HTTP API shows it, and the request bodies that create and
// decide things, as pure functions over nlohmann::json.
//
// `to_json(job)`: an object with job_id, run_id, status, scenario, task,
// priority, labels, tenant, attempts, sla_breached, error ("" when none),
// and for each instant both an RFC 3339 UTC string and the integer
// microseconds: submitted / submitted_us, started, ended, deadline,
// not_before (string null and integer 0 when unset); the `Job` schema of
// docs/openapi.yaml. key_id, the idempotency key and `starts` are not shown. Strings are the job's as stored: dump with
// `error_handler_t::replace` if they may hold invalid UTF-8.
//
// `parse_submission(body)`: the body of POST /v1/runs, a JSON object with
//   scenario     required, [A-Za-z0-9_.-]{1,100}
//   task         required, 1 byte to 64 KiB (bytes) of text, no NUL
//   priority     "high" | "normal" | "low"; default "normal"
//   deadline_ms  integer, 1 .. 604,800,000 (7 days); absent: no deadline
//   labels       array of at most 16 distinct labels, each
//                [A-Za-z0-9_.:=-]{1,64}
// An optional field may also be null, meaning absent. Unknown fields, a
// key given twice, and a body that is not a JSON object are refused.
//
// `parse_decision(body)`: the body of POST /v1/approvals/{run}/{call},
//   decision     required, "approve" | "deny"
//   reason       optional string of at most 4 KiB (bytes)
//
// Errors: `runtime_errc::invalid_arguments` whose context is one sentence
// naming the field and what is wrong with it ("priority: expected one of
// \"high\", \"normal\", \"low\", got \"urgent\""), or for a body that is not
// JSON where it stops ("body is not JSON: ... at line 3, column 7: ...").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

inline constexpr size_t max_scenario_name = 100;
inline constexpr size_t max_task_bytes = 64 * 1024;
inline constexpr uint64_t max_deadline_ms = 7ull * 24 * 3600 * 1000;
inline constexpr size_t max_labels = 16;
inline constexpr size_t max_label_bytes = 64;
inline constexpr size_t max_reason_bytes = 4 * 1024;

/// What a client asks for in POST /v1/runs.
struct submission {
  std::string scenario;
  std::string task;
  job_priority priority = job_priority::normal;
  uint64_t deadline_ms = 0; ///< 0: none
  std::vector<std::string> labels;
};

/// An answer to a pending approval.
struct approval_answer {
  bool approve = false;
  std::string reason; ///< may be empty
};

[[nodiscard]] nlohmann::json to_json(const job& j);

[[nodiscard]] caf::expected<submission> parse_submission(std::string_view body);

[[nodiscard]] caf::expected<approval_answer> parse_decision(std::string_view body);

/// A scenario name as a submission may give it (also for path and query parameters).
[[nodiscard]] bool valid_scenario_name(std::string_view name);

/// A label as a submission may give it (also for `?label=` filters).
[[nodiscard]] bool valid_label(std::string_view label);

} // namespace troupe::jobs
