#pragma once
// How the serve tables spell the enums of core/jobs/job.hpp: the words of
// core/jobs/job.cpp (to_string / ..._from), which are part of the journal
// format (docs/journal-format.md, version 7) and the API, so they never
// change; priorities are stored as their lane ordinal.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/jobs/job.hpp"

namespace troupe::persistence::detail {

inline std::string_view status_text(jobs::job_status s) {
  return jobs::to_string(s);
}

inline std::optional<jobs::job_status> status_from_text(std::string_view s) {
  return jobs::job_status_from(s);
}

inline std::string_view role_text(jobs::role r) {
  return jobs::to_string(r);
}

inline std::optional<jobs::role> role_from_text(std::string_view s) {
  return jobs::role_from(s);
}

/// Priorities are stored as their lane ordinal (0 high, 1 normal, 2 low) so
/// that the jobs_by_status index orders lanes.
inline std::optional<jobs::job_priority> priority_from_ordinal(int64_t x) {
  if (x < 0 || x > 2)
    return std::nullopt;
  return static_cast<jobs::job_priority>(x);
}

} // namespace troupe::persistence::detail
