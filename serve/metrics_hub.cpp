#include "serve/metrics_hub.hpp"

#include <deque>

#include <spdlog/spdlog.h>

#include "core/metrics/exposition.hpp"
#include "persistence/event_feed.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe::serve {

namespace {

using metrics::family;
using metrics::metric_type;

constexpr const char* priorities[] = {"high", "normal", "low"};

// The gauges and copied counters read at scrape time. Names and meanings are
// listed in docs/http-api.md ("Metrics").
std::deque<family> scrape_families(const scrape_inputs& in) {
  // A deque: the references taken below stay valid as families are added.
  std::deque<family> f;
  auto gauge = [&](const char* name, const char* help, double v) {
    f.emplace_back(name, help, metric_type::gauge).set({}, v);
  };
  auto counter = [&](const char* name, const char* help, double v) {
    f.emplace_back(name, help, metric_type::counter).inc({}, v);
  };
  auto histogram = [&](const char* name, const char* help, const distribution& d) {
    auto& h = f.emplace_back(name, help, metric_type::histogram, std::vector<std::string>{},
                             d.bounds);
    if (d.buckets.size() == d.bounds.size() + 1)
      h.merge({}, d.buckets, d.sum);
  };
  auto& depth = f.emplace_back("troupe_queue_depth", "Jobs waiting to start, by priority.",
                               metric_type::gauge, std::vector<std::string>{"priority"});
  auto& oldest = f.emplace_back("troupe_queue_oldest_wait_seconds",
                                "How long the oldest waiting job of each priority has waited.",
                                metric_type::gauge, std::vector<std::string>{"priority"});
  for (size_t i = 0; i < 3; ++i) {
    depth.set({priorities[i]}, static_cast<double>(in.queue.queued[i]));
    auto since = in.queue.oldest_submitted_us[i];
    oldest.set({priorities[i]},
               since == 0 ? 0 : static_cast<double>(std::max<int64_t>(in.now_us - since, 0)) / 1e6);
  }
  gauge("troupe_queue_capacity", "Jobs that may wait at once (all tenants); more get 429.",
        static_cast<double>(in.queue_capacity));
  gauge("troupe_runs_running", "Jobs whose run is running.",
        static_cast<double>(in.queue.running));
  gauge("troupe_runs_concurrency_limit", "Runs that may run at once (all tenants).",
        static_cast<double>(in.run_concurrency));
  gauge("troupe_approvals_pending", "Tool calls waiting for a person's decision.",
        static_cast<double>(in.approvals_pending));
  gauge("troupe_approvals_oldest_age_seconds",
        "How long the oldest pending approval has waited; 0: none pending.",
        in.oldest_approval_us == 0
          ? 0
          : static_cast<double>(std::max<int64_t>(in.now_us - in.oldest_approval_us, 0)) / 1e6);

  auto& j = in.runtime.journal;
  histogram("troupe_journal_commit_latency_seconds",
            "Time of each journal commit (append, COMMIT, fsync).", j.commit_latency_s);
  histogram("troupe_journal_batch_size", "Events per journal commit.", j.batch_size);
  counter("troupe_journal_events_accepted_total", "Events accepted by the journal writer.",
          static_cast<double>(j.accepted));
  counter("troupe_journal_durable_appends_total",
          "Accepted events whose writer waited for their commit (an intent before its "
          "effect, a completion).",
          static_cast<double>(j.durable));
  counter("troupe_journal_appends_rejected_total",
          "Appends refused because the journal's inbox was over capacity.",
          static_cast<double>(j.rejected_busy));
  gauge("troupe_journal_inbox_depth",
        "Messages waiting in the journal writer's inbox at the last append.",
        static_cast<double>(j.inbox_depth));

  sandbox_figures s = in.runtime.sandbox.value_or(sandbox_figures{});
  gauge("troupe_sandbox_workers", "Sandbox workers started and not yet retired.",
        static_cast<double>(s.live));
  gauge("troupe_sandbox_workers_busy", "Sandbox workers running a call.",
        static_cast<double>(s.busy));
  counter("troupe_sandbox_calls_total", "Shell calls that reached a sandbox worker.",
          static_cast<double>(s.calls));
  counter("troupe_sandbox_recycles_total",
          "Sandbox workers retired after their maximum number of calls.",
          static_cast<double>(s.recycled));
  counter("troupe_sandbox_limit_breaches_total",
          "Sandbox workers retired after a call breached a resource limit.",
          static_cast<double>(s.limit_breaches));
  counter("troupe_sandbox_crashes_total", "Sandbox workers that died or hung.",
          static_cast<double>(s.crashed));

  std::vector<std::string> pair{"endpoint", "model"};
  auto& breaker = f.emplace_back(
    "troupe_endpoint_breaker_state",
    "Circuit breaker of each endpoint:model pair: 0 closed, 1 half_open, 2 open.",
    metric_type::gauge, pair);
  auto& score = f.emplace_back("troupe_endpoint_health_score",
                               "Health score of each endpoint:model pair, in [0, 1].",
                               metric_type::gauge, pair);
  auto& in_flight = f.emplace_back("troupe_endpoint_in_flight",
                                   "Requests sent to each endpoint:model pair and not ended.",
                                   metric_type::gauge, pair);
  for (auto& e : in.runtime.endpoints) {
    double state = e.breaker == "open" ? 2 : e.breaker == "half_open" ? 1 : 0;
    breaker.set({e.endpoint, e.model}, state);
    score.set({e.endpoint, e.model}, e.score);
    in_flight.set({e.endpoint, e.model}, e.in_flight);
  }
  return f;
}

} // namespace

caf::expected<std::unique_ptr<metrics_hub>> metrics_hub::open(const std::string& db_path) {
  auto journal = persistence::store::open(db_path, persistence::open_mode::read_only);
  if (!journal)
    return std::move(journal.error());
  return std::unique_ptr<metrics_hub>(new metrics_hub(std::move(*journal)));
}

std::string metrics_hub::tenant_of(const event& e) {
  tenants_.note(e);
  if (auto t = tenants_.find(e.run_id))
    return *t;
  // Began before this process (a resumed run): the runs table has it.
  auto run = journal_.find_run(e.run_id);
  if (!run) {
    spdlog::warn("metrics: the tenant of run {} is unknown: {}", e.run_id,
                 troupe::render(run.error()));
    tenants_.remember(e.run_id, "unknown");
    return "unknown";
  }
  tenants_.remember(e.run_id, run->tenant);
  return run->tenant;
}

void metrics_hub::on_event(const persistence::feed_event& row) {
  auto e = decode(row.body.data(), row.body.size(),
                  "run " + row.run_id + " seq " + std::to_string(row.seq));
  if (!e) {
    std::lock_guard<std::mutex> guard{mu_};
    ++undecodable_;
    return;
  }
  auto tenant = tenant_of(*e);
  {
    std::lock_guard<std::mutex> guard{mu_};
    events_.apply(*e, tenant);
  }
  tenants_.done(*e);
}

void metrics_hub::on_job(metrics::job_note what, const jobs::job& j) {
  std::lock_guard<std::mutex> guard{mu_};
  jobs_.apply(what, j);
}

std::string metrics_hub::render(const scrape_inputs& in) const {
  auto scraped = scrape_families(in);
  // Copied under the lock, formatted after it: the event hub's and the
  // dispatcher's threads, which update these, never wait for a scrape's
  // formatting.
  std::vector<family> held;
  uint64_t undecodable_events = 0;
  {
    std::lock_guard<std::mutex> guard{mu_};
    for (auto* f : events_.families())
      held.push_back(*f);
    for (auto* f : jobs_.families())
      held.push_back(*f);
    undecodable_events = undecodable_;
  }
  std::vector<const family*> all;
  for (auto& f : scraped)
    all.push_back(&f);
  for (auto& f : held)
    all.push_back(&f);
  uint64_t overflowed = 0;
  for (auto* f : all)
    overflowed += f->overflowed();
  family undecodable{"troupe_metrics_undecodable_events_total",
                     "Committed events the metrics could not decode (run `troupe doctor`).",
                     metric_type::counter};
  undecodable.inc({}, static_cast<double>(undecodable_events));
  family overflow{"troupe_metrics_series_overflow_total",
                  "Updates counted in an `other` series because a family reached its cap "
                  "of label sets.",
                  metric_type::counter};
  overflow.inc({}, static_cast<double>(overflowed));
  all.push_back(&undecodable);
  all.push_back(&overflow);
  return metrics::render(all);
}

} // namespace troupe::serve
