// GET /v1/tenant (the caller's tenant: quotas and what is used of them) and
// GET /v1/queue (its jobs queued and running per priority lane).

#include <chrono>

#include "core/jobs/job_json.hpp"
#include "core/jobs/queue_summary.hpp"
#include "core/jobs/utc_time.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/detail/wall_clock.hpp"
#include "serve/job_dispatcher.hpp"

namespace troupe::serve::detail {

namespace {

nlohmann::json quota_json(const jobs::tenant_quota& q) {
  return {{"max_concurrent_runs", q.max_concurrent_runs},
          {"submissions_per_minute", q.submissions_per_minute},
          {"max_queued", q.max_queued},
          {"tokens_per_day", q.tokens_per_day},
          {"cost_micro_usd_per_month", q.cost_micro_usd_per_month}};
}

} // namespace

void get_tenant(api::impl& a, call& c) {
  auto now = now_us();
  auto settings = a.d.tenants.settings(c.who.tenant);
  auto counts = a.d.dispatcher.counts(c.who.tenant);
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  // The figures the submission quotas are checked against (api_runs.cpp).
  auto used = (*r)->jobs.usage(c.who.tenant, jobs::day_start_us(now), jobs::month_start_us(now));
  if (!used)
    return c.res.reply(internal_error(used.error()));
  c.res.reply(json_reply(
    200, {{"tenant", c.who.tenant},
          {"key_id", c.who.key_id},
          {"role", jobs::to_string(c.who.key_role)},
          {"quota", quota_json(settings.quota)},
          {"used",
           {{"tokens_today", used->tokens},
            {"cost_this_month_micro_usd", used->cost_micro_usd},
            {"queued", counts.queued},
            {"running", counts.running}}},
          {"day_start", jobs::rfc3339_utc(jobs::day_start_us(now))},
          {"month_start", jobs::rfc3339_utc(jobs::month_start_us(now))}}));
}

void get_queue(api::impl& a, call& c) {
  std::vector<jobs::job> mine;
  {
    auto r = a.readers.take();
    if (!r)
      return c.res.reply(internal_error(r.error()));
    for (auto list : {&persistence::job_store::queued, &persistence::job_store::running}) {
      auto jobs = ((*r)->jobs.*list)();
      if (!jobs)
        return c.res.reply(internal_error(jobs.error()));
      for (auto& j : *jobs)
        if (j.tenant == c.who.tenant)
          mine.push_back(std::move(j));
    }
  }
  auto s = jobs::summarize_queue(mine, now_us());
  auto lanes = nlohmann::json::array();
  for (auto& l : s.lanes)
    lanes.push_back({{"priority", jobs::to_string(l.priority)},
                     {"queued", l.queued},
                     {"running", l.running},
                     {"oldest_wait_ms", l.oldest_wait_ms},
                     {"oldest_submitted", l.oldest_submitted_us == 0
                                            ? nlohmann::json()
                                            : nlohmann::json(jobs::rfc3339_utc(l.oldest_submitted_us))}});
  c.res.reply(json_reply(200, {{"queued", s.queued},
                               {"running", s.running},
                               {"oldest_wait_ms", s.oldest_wait_ms},
                               {"lanes", std::move(lanes)}}));
}

} // namespace troupe::serve::detail
