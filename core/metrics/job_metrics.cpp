#include "core/metrics/job_metrics.hpp"

#include <algorithm>

namespace troupe::metrics {

job_metrics::job_metrics(size_t cap)
  : wait_("troupe_queue_wait_seconds",
          "Time jobs waited in the queue before their run started (from submission, or "
          "from the end of a retry's backoff).",
          metric_type::histogram, {"priority"}, duration_bounds_s(), cap),
    duration_("troupe_run_duration_seconds", "Time from a job's start to its end.",
              metric_type::histogram, {"priority"}, duration_bounds_s(), cap),
    ended_("troupe_jobs_ended_total", "Jobs that reached a final status, by status.",
           metric_type::counter, {"tenant", "status"}, {}, cap),
    breaches_("troupe_sla_breaches_total", "Running jobs found past their deadline.",
              metric_type::counter, {"tenant"}, {}, cap) {
  for (auto p : {jobs::job_priority::high, jobs::job_priority::normal, jobs::job_priority::low}) {
    wait_.touch({std::string(to_string(p))});
    duration_.touch({std::string(to_string(p))});
  }
}

void job_metrics::apply(job_note what, const jobs::job& j) {
  auto priority = std::string(to_string(j.priority));
  auto seconds = [](int64_t us) { return static_cast<double>(std::max<int64_t>(us, 0)) / 1e6; };
  switch (what) {
    case job_note::started:
      wait_.observe({priority}, seconds(j.started_us - std::max(j.submitted_us, j.not_before_us)));
      break;
    case job_note::ended:
      ended_.inc({j.tenant, std::string(to_string(j.status))});
      if (j.started_us > 0 && j.ended_us >= j.started_us)
        duration_.observe({priority}, seconds(j.ended_us - j.started_us));
      break;
    case job_note::breached:
      breaches_.inc({j.tenant});
      break;
  }
}

std::vector<const family*> job_metrics::families() const {
  return {&wait_, &duration_, &ended_, &breaches_};
}

} // namespace troupe::metrics
