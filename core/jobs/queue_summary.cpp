#include "core/jobs/queue_summary.hpp"

#include <algorithm>

namespace troupe::jobs {

queue_summary summarize_queue(const std::vector<job>& jobs, int64_t now_us) {
  queue_summary s;
  for (size_t i = 0; i < s.lanes.size(); ++i)
    s.lanes[i].priority = static_cast<job_priority>(i);
  for (auto& j : jobs) {
    auto& lane = s.lanes[static_cast<size_t>(j.priority)];
    if (j.status == job_status::running) {
      ++lane.running;
      ++s.running;
    } else if (j.status == job_status::queued) {
      ++lane.queued;
      ++s.queued;
      if (lane.oldest_submitted_us == 0 || j.submitted_us < lane.oldest_submitted_us)
        lane.oldest_submitted_us = j.submitted_us;
    }
  }
  for (auto& lane : s.lanes) {
    if (lane.oldest_submitted_us != 0)
      // A clock that stepped back shows no wait rather than a negative one.
      lane.oldest_wait_ms = std::max<int64_t>(0, (now_us - lane.oldest_submitted_us) / 1000);
    s.oldest_wait_ms = std::max(s.oldest_wait_ms, lane.oldest_wait_ms);
  }
  return s;
}

} // namespace troupe::jobs
