#include "serve/job_dispatcher.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/jobs/job_deadlines.hpp"
#include "core/jobs/job_retry.hpp"
#include "core/jobs/job_scheduling.hpp"
#include "core/jobs/quota.hpp"
#include "core/jobs/utc_time.hpp"
#include "persistence/job_store.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/wall_clock.hpp"
#include "serve/event_hub.hpp"
#include "serve/run_outcomes.hpp"
#include "serve/scenario_catalog.hpp"
#include "serve/tenant_scenario.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve {

namespace {

using detail::now_us;

jobs::job_status status_of(run_status s) {
  switch (s) {
    case run_status::completed:
      return jobs::job_status::completed;
    case run_status::canceled:
      return jobs::job_status::canceled;
    default:
      return jobs::job_status::failed;
  }
}

} // namespace

std::string attempt_run_id(const jobs::job& j) {
  return j.starts <= 1 ? j.run_id : j.run_id + "-" + std::to_string(j.starts);
}

struct job_dispatcher::impl : std::enable_shared_from_this<job_dispatcher::impl> {
  runtime& rt;
  const scenario_catalog& catalog;
  event_hub& hub;
  tenant_lookup tenants;
  dispatcher_options opts;
  // Its SQLite connection is not thread-safe (NOMUTEX), and besides the
  // dispatcher thread, API workers use it (cancel, requeue): every use goes
  // through `stored`, under store_mu. A leaf lock: nothing else is taken
  // while it is held.
  persistence::job_store store;
  std::mutex store_mu;
  template <class F>
  auto stored(F&& use) {
    std::lock_guard<std::mutex> guard{store_mu};
    return use(store);
  }
  run_outcomes outcomes;

  mutable std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  bool starting = true;
  bool kicked = false; // work arrived since the last round
  std::map<uint64_t, jobs::job> queued;          // by seq; guarded by mu
  std::map<std::string, jobs::job> running_jobs; // by run id; guarded by mu
  std::vector<run_result> ended;                 // guarded by mu
  std::map<std::string, queue_counts> per_tenant; // guarded by mu
  std::atomic<int64_t> last_round_ns{0};
  std::atomic<bool> writes_ok{true};
  int64_t last_reconcile_us = 0; // dispatcher thread only
  static constexpr int64_t reconcile_every_us = 1'000'000;
  std::mt19937_64 random{std::random_device{}()};
  std::thread thread;

  impl(runtime& r, const scenario_catalog& c, event_hub& h, tenant_lookup t,
       dispatcher_options o, persistence::job_store s, run_outcomes ro)
    : rt(r), catalog(c), hub(h), tenants(std::move(t)), opts(std::move(o)), store(std::move(s)),
      outcomes(std::move(ro)) {}

  // Moves a stored job; false when its row had moved on already (a racing
  // cancel): the caller then leaves it alone.
  bool move(jobs::job& j, jobs::job_status from) {
    auto done = stored([&](auto& st) { return st.update(j, from); });
    writes_ok = static_cast<bool>(done);
    if (!done) {
      spdlog::error("job {}: cannot record {}: {}", j.job_id, to_string(j.status),
                    render(done.error()));
      return false;
    }
    return *done;
  }

  void note(metrics::job_note what, const jobs::job& j) {
    if (opts.on_job)
      opts.on_job(what, j);
  }

  // Guarded by mu.
  void count(const jobs::job& j, int queued_delta, int running_delta) {
    auto& c = per_tenant[j.tenant];
    c.queued += queued_delta;
    c.running += running_delta;
  }

  void enqueue_mirror(jobs::job j) {
    std::lock_guard<std::mutex> guard{mu};
    auto seq = j.seq;
    if (queued.emplace(seq, std::move(j)).second)
      count(queued.at(seq), 1, 0);
    kicked = true;
  }

  // Jobs queued behind the dispatcher's back (`troupe jobs requeue` from
  // another process) join the mirror; the stored row is the truth, and every
  // start is a compare-and-set on it, so a stale entry only costs a lookup.
  void reconcile() {
    auto rows = stored([](auto& st) { return st.queued(); });
    if (!rows) {
      spdlog::error("job queue: {}", render(rows.error()));
      return;
    }
    for (auto& j : *rows)
      enqueue_mirror(std::move(j));
  }

  // Runs may end after the dispatcher is gone (a server shutting down with
  // runs in flight): their ends then go nowhere, as the journal has them.
  std::function<void(const run_result&)> end_callback() {
    return [weak = weak_from_this()](const run_result& r) {
      if (auto self = weak.lock())
        self->on_run_end(r);
    };
  }

  void on_run_end(const run_result& r) {
    {
      std::lock_guard<std::mutex> guard{mu};
      ended.push_back(r);
      kicked = true;
    }
    wake.notify_all();
  }

  // What the tenant has left to spend: a run's caps (nothing when its quota
  // sets no bound). Errors reading the usage give no caps: the submission
  // check refused what was already spent.
  jobs::run_budget budget_for(const jobs::job& j, const jobs::tenant_quota& quota) {
    if (quota.tokens_per_day == 0 && quota.cost_micro_usd_per_month == 0)
      return {};
    auto now = now_us();
    auto used = stored([&](auto& st) {
      return st.usage(j.tenant, jobs::day_start_us(now), jobs::month_start_us(now));
    });
    if (!used) {
      spdlog::error("job {}: cannot read tenant {}'s usage: {}", j.job_id, j.tenant,
                    render(used.error()));
      return {};
    }
    jobs::tenant_usage u;
    u.tokens_today = used->tokens;
    u.cost_this_month_micro_usd = used->cost_micro_usd;
    return jobs::run_budget_cap(quota, u);
  }

  // A picked job: running in the store first, then its run starts. A start
  // that fails before the run exists ends the job (a bad scenario is the
  // submitter's problem, not a retry's); so does a tenant budget spent
  // since the job was accepted.
  void launch(jobs::job j) {
    auto settings = tenants(j.tenant);
    auto sc = scenario_for_tenant(catalog, rt, j.scenario, settings);
    auto budget = budget_for(j, settings.quota);
    if (!sc || budget.exhausted()) {
      j.status = jobs::job_status::failed;
      j.ended_us = now_us();
      j.error = !sc ? render(sc.error())
                    : "tenant " + j.tenant + "'s token or cost budget is spent";
      if (move(j, jobs::job_status::queued))
        note(metrics::job_note::ended, j);
      std::lock_guard<std::mutex> guard{mu};
      count(j, -1, 0);
      return;
    }
    j.status = jobs::job_status::running;
    j.attempts += 1;
    j.starts += 1;
    j.started_us = now_us();
    if (!move(j, jobs::job_status::queued)) {
      std::lock_guard<std::mutex> guard{mu};
      count(j, -1, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> guard{mu};
      count(j, -1, 1);
      running_jobs[attempt_run_id(j)] = j;
    }
    note(metrics::job_note::started, j);
    run_request req;
    req.task = j.task;
    req.run_id = attempt_run_id(j);
    req.tenant = j.tenant;
    req.max_tokens = budget.max_tokens.value_or(0);
    req.max_cost_micro_usd = budget.max_cost_micro_usd.value_or(0);
    req.on_done = end_callback();
    auto handle = rt.start(**sc, std::move(req));
    if (handle)
      return;
    run_result r;
    r.run_id = attempt_run_id(j);
    r.status = run_status::failed;
    r.reason = "start_failed";
    r.summary = render(handle.error());
    finish(r);
  }

  // Records how a job's run ended.
  void finish(const run_result& r) {
    jobs::job j;
    {
      std::lock_guard<std::mutex> guard{mu};
      auto i = running_jobs.find(r.run_id);
      if (i == running_jobs.end())
        return; // not a job (a delegated child), or recorded already
      j = i->second;
      running_jobs.erase(i);
      count(j, 0, -1);
    }
    if (r.status == run_status::running)
      return; // not resumed at shutdown: the next start resumes it
    auto from = jobs::job_status::running;
    j.ended_us = now_us();
    j.error = r.status == run_status::completed ? std::string{} : r.reason;
    if (jobs::is_infrastructure_failure(r.status, r.reason, outcomes.last_model_failure(r.run_id))) {
      std::uniform_real_distribution<double> u{0.0, 1.0};
      auto us = [](std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()) * 1000; };
      auto next = jobs::next_attempt(j.attempts, opts.max_attempts, us(opts.retry_base),
                                     us(opts.retry_cap), u(random), j.ended_us);
      if (next.what == jobs::retry_decision::kind::retry) {
        j.status = jobs::job_status::queued;
        j.not_before_us = next.not_before_us;
        j.ended_us = 0;
        j.error = r.reason + ": " + r.summary;
        if (move(j, from)) {
          std::lock_guard<std::mutex> guard{mu};
          count(j, 1, 0);
          queued[j.seq] = j;
        }
        return;
      }
      j.status = jobs::job_status::dead;
      j.error = r.reason + " after " + std::to_string(j.attempts) + " attempts: " + r.summary;
    } else {
      j.status = status_of(r.status);
      if (r.status == run_status::failed && !r.summary.empty())
        j.error = r.reason + ": " + r.summary;
    }
    if (move(j, from))
      note(metrics::job_note::ended, j);
  }

  void check_deadlines(int64_t now) {
    std::vector<jobs::job> expire, breach;
    {
      std::lock_guard<std::mutex> guard{mu};
      for (auto i = queued.begin(); i != queued.end();) {
        auto act = jobs::deadline_action(i->second.status, i->second.deadline_us,
                                         i->second.sla_breached, now, opts.cancel_on_breach);
        if (act == jobs::deadline_verdict::expire) {
          expire.push_back(i->second);
          count(i->second, -1, 0);
          i = queued.erase(i);
        } else {
          ++i;
        }
      }
      for (auto& [run, j] : running_jobs) {
        auto act = jobs::deadline_action(j.status, j.deadline_us, j.sla_breached, now,
                                         opts.cancel_on_breach);
        if (act == jobs::deadline_verdict::mark_breached
            || act == jobs::deadline_verdict::cancel_breached) {
          j.sla_breached = true;
          breach.push_back(j);
        }
      }
    }
    for (auto& j : expire) {
      j.status = jobs::job_status::expired;
      j.ended_us = now;
      j.error = "its deadline passed before it started";
      if (move(j, jobs::job_status::queued)) {
        hub.end_run(j.run_id, "expired");
        note(metrics::job_note::ended, j);
      }
    }
    for (auto& j : breach) {
      if (move(j, jobs::job_status::running)) // running -> running, sla_breached set
        note(metrics::job_note::breached, j);
      spdlog::warn("job {}: past its deadline (SLA breached){}", j.job_id,
                   opts.cancel_on_breach ? "; canceling" : "");
      if (opts.cancel_on_breach)
        rt.cancel(attempt_run_id(j));
    }
  }

  void dispatch(int64_t now) {
    std::vector<jobs::job> picks;
    {
      std::lock_guard<std::mutex> guard{mu};
      if (!starting || queued.empty() || running_jobs.size() >= opts.global_concurrency)
        return;
      std::vector<jobs::queued_job> view;
      view.reserve(queued.size());
      for (auto& [seq, j] : queued)
        view.push_back(jobs::queued_view(j));
      jobs::running_counts running;
      running.total = static_cast<uint32_t>(running_jobs.size());
      jobs::scheduling_limits limits;
      limits.global_concurrency = opts.global_concurrency;
      limits.aging_step_us = static_cast<int64_t>(opts.aging_step.count()) * 1000;
      limits.max_picks = 64;
      for (auto& [tenant, c] : per_tenant) {
        running.per_tenant[tenant] = static_cast<uint32_t>(c.running);
        if (c.queued > 0)
          limits.tenant_max_concurrent[tenant] = tenants(tenant).quota.max_concurrent_runs;
      }
      for (auto index : jobs::pick_jobs(view, running, limits, now)) {
        auto i = queued.find(view[index].seq);
        picks.push_back(std::move(i->second));
        queued.erase(i);
      }
    }
    for (auto& j : picks)
      launch(std::move(j));
  }

  void loop() {
    while (true) {
      std::vector<run_result> ends;
      {
        std::unique_lock<std::mutex> lock{mu};
        wake.wait_for(lock, opts.tick, [&] { return stopping || kicked; });
        if (stopping)
          return;
        kicked = false;
        ends.swap(ended);
      }
      for (auto& r : ends)
        finish(r);
      auto now = now_us();
      if (now - last_reconcile_us >= reconcile_every_us) {
        reconcile();
        last_reconcile_us = now;
      }
      check_deadlines(now);
      dispatch(now);
      last_round_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    }
  }
};

job_dispatcher::job_dispatcher(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

job_dispatcher::~job_dispatcher() {
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

caf::expected<std::unique_ptr<job_dispatcher>>
job_dispatcher::create(runtime& rt, const scenario_catalog& catalog, event_hub& hub,
                       tenant_lookup tenants, dispatcher_options opts) {
  auto store = persistence::job_store::open(opts.db_path);
  if (!store)
    return std::move(store.error());
  auto outcomes = run_outcomes::open(opts.db_path);
  if (!outcomes)
    return std::move(outcomes.error());
  auto p = std::make_shared<impl>(rt, catalog, hub, std::move(tenants), std::move(opts),
                                  std::move(*store), std::move(*outcomes));
  return std::unique_ptr<job_dispatcher>(new job_dispatcher(std::move(p)));
}

caf::error job_dispatcher::recover() {
  auto& p = *impl_;
  auto running = p.stored([](auto& st) { return st.running(); });
  if (!running)
    return std::move(running.error());
  std::vector<run_result> ended_meanwhile;
  for (auto& j : *running) {
    auto run = p.outcomes.find(attempt_run_id(j));
    if (!run && !(run.error() == persistence::store_errc::unknown_run))
      return std::move(run.error());
    if (!run) {
      // Accepted and marked running, but the process died before its run
      // reached the journal: it starts again as if for the first time.
      auto again = j;
      again.status = jobs::job_status::queued;
      again.attempts = j.attempts > 0 ? j.attempts - 1 : 0;
      again.starts = j.starts > 0 ? j.starts - 1 : 0;
      if (p.move(again, jobs::job_status::running))
        p.enqueue_mirror(again);
      continue;
    }
    {
      std::lock_guard<std::mutex> guard{p.mu};
      p.running_jobs[attempt_run_id(j)] = j;
      p.count(j, 0, 1);
    }
    if (run->status != run_status::running) {
      run_result r;
      r.run_id = attempt_run_id(j);
      r.status = run->status;
      r.reason = p.outcomes.completion_reason(r.run_id);
      ended_meanwhile.push_back(r);
    }
  }
  for (auto& r : ended_meanwhile)
    p.finish(r);
  auto queued = p.stored([](auto& st) { return st.queued(); });
  if (!queued)
    return std::move(queued.error());
  for (auto& j : *queued)
    p.enqueue_mirror(j);
  // Runs of tenants with their own policy resume under it: register those
  // scenarios first (a policy that no longer loads is logged; that run's
  // resume then fails and names it).
  for (auto& [run, j] : p.running_jobs) {
    auto sc = scenario_for_tenant(p.catalog, p.rt, j.scenario, p.tenants(j.tenant));
    if (!sc)
      spdlog::error("job {}: {}", j.job_id, render(sc.error()));
  }
  for (auto& outcome : p.rt.resume(p.end_callback()))
    if (!outcome)
      spdlog::error("resume: {}", render(outcome.error()));
  return {};
}

void job_dispatcher::start() {
  auto* p = impl_.get();
  p->last_round_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  p->thread = std::thread([p] { p->loop(); });
}

void job_dispatcher::stop_starting() {
  std::lock_guard<std::mutex> guard{impl_->mu};
  impl_->starting = false;
}

void job_dispatcher::enqueue(jobs::job j) {
  impl_->enqueue_mirror(std::move(j));
  impl_->wake.notify_all();
}

caf::expected<std::optional<jobs::job>> job_dispatcher::cancel(const std::string& job_id,
                                                              const std::string& by) {
  auto& p = *impl_;
  std::optional<jobs::job> was_queued;
  std::string running_run;
  {
    std::lock_guard<std::mutex> guard{p.mu};
    for (auto i = p.queued.begin(); i != p.queued.end(); ++i)
      if (i->second.job_id == job_id) {
        was_queued = std::move(i->second);
        p.count(*was_queued, -1, 0);
        p.queued.erase(i);
        break;
      }
    if (!was_queued)
      for (auto& [run, j] : p.running_jobs)
        if (j.job_id == job_id)
          running_run = run;
  }
  if (was_queued) {
    auto j = std::move(*was_queued);
    j.status = jobs::job_status::canceled;
    j.ended_us = now_us();
    j.error = "canceled by " + by + " before it started";
    if (p.move(j, jobs::job_status::queued)) {
      p.hub.end_run(j.run_id, "canceled");
      p.note(metrics::job_note::ended, j);
    }
  } else if (!running_run.empty()) {
    p.rt.cancel(running_run); // it journals `canceled`; finish() records the job
  }
  auto now = p.stored([&](auto& st) { return st.get(job_id); });
  if (!now)
    return std::move(now.error());
  return std::move(*now);
}

caf::expected<std::optional<jobs::job>> job_dispatcher::requeue(const std::string& job_id) {
  auto& p = *impl_;
  auto found = p.stored([&](auto& st) { return st.get(job_id); });
  if (!found || !*found || (*found)->status != jobs::job_status::dead)
    return found;
  auto j = std::move(**found);
  j.status = jobs::job_status::queued;
  j.attempts = 0;
  j.not_before_us = 0;
  j.ended_us = 0;
  j.error.clear();
  if (p.move(j, jobs::job_status::dead))
    enqueue(j);
  return p.stored([&](auto& st) { return st.get(job_id); });
}

queue_counts job_dispatcher::counts() const {
  std::lock_guard<std::mutex> guard{impl_->mu};
  return {impl_->queued.size(), impl_->running_jobs.size()};
}

queue_view job_dispatcher::view() const {
  queue_view v;
  std::lock_guard<std::mutex> guard{impl_->mu};
  for (auto& [seq, j] : impl_->queued) {
    auto lane = static_cast<size_t>(j.priority);
    v.queued[lane] += 1;
    if (v.oldest_submitted_us[lane] == 0 || j.submitted_us < v.oldest_submitted_us[lane])
      v.oldest_submitted_us[lane] = j.submitted_us;
  }
  v.running = impl_->running_jobs.size();
  return v;
}

queue_counts job_dispatcher::counts(const std::string& tenant) const {
  std::lock_guard<std::mutex> guard{impl_->mu};
  auto i = impl_->per_tenant.find(tenant);
  return i == impl_->per_tenant.end() ? queue_counts{} : i->second;
}

std::chrono::steady_clock::time_point job_dispatcher::last_round() const {
  return std::chrono::steady_clock::time_point{
    std::chrono::steady_clock::duration{impl_->last_round_ns.load()}};
}

bool job_dispatcher::writes_ok() const {
  return impl_->writes_ok.load();
}

size_t job_dispatcher::running() const {
  std::lock_guard<std::mutex> guard{impl_->mu};
  return impl_->running_jobs.size();
}

} // namespace troupe::serve
