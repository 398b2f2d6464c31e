#include "core/jobs/job_deadlines.hpp"

namespace troupe::jobs {

std::string_view to_string(deadline_verdict v) {
  switch (v) {
    case deadline_verdict::none:
      return "none";
    case deadline_verdict::expire:
      return "expire";
    case deadline_verdict::mark_breached:
      return "mark_breached";
    case deadline_verdict::cancel_breached:
      return "cancel_breached";
  }
  return "unknown";
}

bool deadline_passed(int64_t deadline_us, int64_t now_us) {
  return deadline_us != 0 && now_us >= deadline_us;
}

deadline_verdict deadline_action(job_status status, int64_t deadline_us, bool sla_breached,
                                 int64_t now_us, bool cancel_on_breach) {
  if (!deadline_passed(deadline_us, now_us))
    return deadline_verdict::none;
  if (status == job_status::queued)
    return deadline_verdict::expire;
  if (status != job_status::running || sla_breached)
    return deadline_verdict::none;
  return cancel_on_breach ? deadline_verdict::cancel_breached : deadline_verdict::mark_breached;
}

int64_t deadline_wake_us(job_status status, int64_t deadline_us, bool sla_breached) {
  if (status == job_status::queued || (status == job_status::running && !sla_breached))
    return deadline_us;
  return 0;
}

} // namespace troupe::jobs
