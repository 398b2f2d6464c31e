#include "core/jobs/job_lifecycle.hpp"

namespace troupe::jobs {

bool can_move(job_status from, job_status to) {
  using s = job_status;
  switch (from) {
    case s::accepted:
      return to == s::queued;
    case s::queued:
      return to == s::running || to == s::canceled || to == s::expired || to == s::failed;
    case s::running:
      return to == s::completed || to == s::failed || to == s::canceled || to == s::queued
             || to == s::dead;
    case s::dead:
      return to == s::queued;
    case s::completed:
    case s::failed:
    case s::canceled:
    case s::expired:
      return false;
  }
  return false;
}

} // namespace troupe::jobs
