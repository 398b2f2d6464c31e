#pragma once
// Rows of the `jobs` table to jobs::job and back, and the list cursor
// (job_store.cpp, job_list.cpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "persistence/detail/sqlite.hpp"

namespace troupe::persistence::detail {

/// The columns read_job expects, in order, for `SELECT <job_columns> FROM jobs`.
inline constexpr const char* job_columns =
  "seq, job_id, run_id, tenant, key_id, scenario, task, priority, labels, "
  "idempotency_key, status, submitted_us, deadline_us, started_us, ended_us, "
  "not_before_us, attempts, sla_breached, error, starts";

/// The current row of `st` (selected with job_columns). A status, priority or
/// label list the format does not know is `corrupted`, naming `path` and the
/// job: readers never guess.
[[nodiscard]] caf::expected<jobs::job> read_job(const statement& st, const std::string& path);

/// The labels as a JSON array of strings.
[[nodiscard]] std::string labels_json(const std::vector<std::string>& labels);

/// The cursor that continues a newest-first listing after the job `seq`.
[[nodiscard]] std::string encode_cursor(uint64_t seq);

/// The seq a cursor of encode_cursor continues after; invalid_argument
/// naming the cursor for anything else.
[[nodiscard]] caf::expected<uint64_t> decode_cursor(std::string_view cursor);

} // namespace troupe::persistence::detail
