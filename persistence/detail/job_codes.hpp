#pragma once
// How the serve tables spell the enums of core/jobs/job.hpp. The stored
// text is part of the journal format (docs/journal-format.md, version 7),
// so it is written down here rather than borrowed from a printer that might
// change. TODO(cleanup): core/jobs/job.cpp's to_string/..._from give the
// same words; once it is on main, these may delegate to it.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/jobs/job.hpp"

namespace troupe::persistence::detail {

inline std::string_view status_text(jobs::job_status s) {
  using st = jobs::job_status;
  switch (s) {
    case st::accepted:
      return "accepted";
    case st::queued:
      return "queued";
    case st::running:
      return "running";
    case st::completed:
      return "completed";
    case st::failed:
      return "failed";
    case st::canceled:
      return "canceled";
    case st::expired:
      return "expired";
    case st::dead:
      return "dead";
  }
  return "accepted";
}

inline std::optional<jobs::job_status> status_from_text(std::string_view s) {
  for (auto x : {jobs::job_status::accepted, jobs::job_status::queued,
                 jobs::job_status::running, jobs::job_status::completed,
                 jobs::job_status::failed, jobs::job_status::canceled,
                 jobs::job_status::expired, jobs::job_status::dead})
    if (status_text(x) == s)
      return x;
  return std::nullopt;
}

inline std::string_view role_text(jobs::role r) {
  switch (r) {
    case jobs::role::viewer:
      return "viewer";
    case jobs::role::submitter:
      return "submitter";
    case jobs::role::operator_:
      return "operator";
    case jobs::role::admin:
      return "admin";
  }
  return "viewer";
}

inline std::optional<jobs::role> role_from_text(std::string_view s) {
  for (auto x : {jobs::role::viewer, jobs::role::submitter, jobs::role::operator_,
                 jobs::role::admin})
    if (role_text(x) == s)
      return x;
  return std::nullopt;
}

/// Priorities are stored as their lane ordinal (0 high, 1 normal, 2 low) so
/// that the jobs_by_status index orders lanes.
inline std::optional<jobs::job_priority> priority_from_ordinal(int64_t x) {
  if (x < 0 || x > 2)
    return std::nullopt;
  return static_cast<jobs::job_priority>(x);
}

} // namespace troupe::persistence::detail
