#include "core/jobs/job_scheduling.hpp"

#include <algorithm>
#include <tuple>

#include "core/jobs/job_deadlines.hpp"
#include "core/saturating_time.hpp"

namespace troupe::jobs {

namespace {

struct candidate {
  uint8_t lane;
  uint64_t seq;
  size_t index;
};

bool eligible(const queued_job& j, int64_t now_us) {
  return j.not_before_us <= now_us && !deadline_passed(j.deadline_us, now_us);
}

uint32_t count_of(const std::map<std::string, uint32_t>& m, const std::string& tenant) {
  auto i = m.find(tenant);
  return i == m.end() ? 0 : i->second;
}

} // namespace

queued_job queued_view(const job& j) {
  return {j.job_id, j.tenant, j.priority, j.seq, j.submitted_us, j.deadline_us,
          j.not_before_us};
}

job_priority effective_priority(const queued_job& j, int64_t aging_step_us, int64_t now_us) {
  auto lane = static_cast<int64_t>(j.priority);
  if (aging_step_us > 0)
    lane -= elapsed_us(j.submitted_us, now_us) / aging_step_us;
  return static_cast<job_priority>(std::max<int64_t>(lane, 0));
}

std::vector<size_t> pick_jobs(const std::vector<queued_job>& queued,
                              const running_counts& running,
                              const scheduling_limits& limits, int64_t now_us) {
  std::vector<size_t> picks;
  uint32_t global = std::max<uint32_t>(limits.global_concurrency, 1);
  if (running.total >= global || limits.max_picks == 0)
    return picks;
  std::vector<candidate> order;
  order.reserve(queued.size());
  for (size_t i = 0; i < queued.size(); ++i)
    if (eligible(queued[i], now_us))
      order.push_back({static_cast<uint8_t>(
                         effective_priority(queued[i], limits.aging_step_us, now_us)),
                       queued[i].seq, i});
  std::sort(order.begin(), order.end(), [&](const candidate& a, const candidate& b) {
    // The job id breaks a tie of seq only if the caller passed duplicates,
    // so that the order never depends on the input's order.
    return std::tie(a.lane, a.seq, queued[a.index].job_id)
           < std::tie(b.lane, b.seq, queued[b.index].job_id);
  });
  // Runs per tenant, this call's picks included.
  std::map<std::string, uint32_t> busy;
  uint32_t total = running.total;
  for (auto& c : order) {
    if (total >= global || picks.size() >= limits.max_picks)
      break;
    auto& tenant = queued[c.index].tenant;
    auto cap = count_of(limits.tenant_max_concurrent, tenant);
    auto b = busy.try_emplace(tenant, count_of(running.per_tenant, tenant)).first;
    if (cap != 0 && b->second >= cap)
      continue;
    ++b->second;
    ++total;
    picks.push_back(c.index);
  }
  return picks;
}

} // namespace troupe::jobs
