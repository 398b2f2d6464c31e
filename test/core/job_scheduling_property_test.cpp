// Properties of pick_jobs over random workloads and simulated floods
// (seeded, so a failure reproduces): caps never exceeded, nothing left
// waiting that could start, FIFO within a lane for one tenant, no
// starvation within the bound job_scheduling.hpp derives, and a tenant at
// its cap never keeps another tenant out. Each simulation also runs a
// control (no aging, no cap) showing the property is really tested: there
// the low job starves and the other tenant waits.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/jobs/job_scheduling.hpp"
#include "test/core/jobs_print.hpp"

using namespace troupe::jobs;

namespace {

constexpr int64_t s = 1'000'000;
constexpr int64_t t0 = 1'700'000'000 * s;

std::tuple<int, uint64_t> order_key(const queued_job& j, int64_t step, int64_t now) {
  return {static_cast<int>(effective_priority(j, step, now)), j.seq};
}

bool eligible(const queued_job& j, int64_t now) {
  return j.not_before_us <= now && !(j.deadline_us != 0 && now >= j.deadline_us);
}

struct workload {
  std::vector<queued_job> queued;
  running_counts running;
  scheduling_limits limits;
  int64_t now = t0;
};

workload random_workload(std::mt19937_64& rng) {
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  workload w;
  w.now = t0 + uni(0, 600) * s;
  w.limits.global_concurrency = static_cast<uint32_t>(uni(0, 10));
  w.limits.aging_step_us = uni(0, 4) == 0 ? 0 : uni(1, 60) * s;
  w.limits.max_picks = static_cast<size_t>(uni(0, 3) == 0 ? uni(0, 4) : 1000);
  auto tenants = uni(1, 4);
  for (int64_t t = 0; t < tenants; ++t) {
    auto name = "t" + std::to_string(t);
    if (uni(0, 2) != 0)
      w.limits.tenant_max_concurrent[name] = static_cast<uint32_t>(uni(0, 4));
    auto r = static_cast<uint32_t>(uni(0, 3));
    if (r != 0)
      w.running.per_tenant[name] = r;
    w.running.total += r;
  }
  // Seq follows submission time, as the store assigns it.
  int64_t submitted = w.now - uni(0, 600) * s;
  auto n = uni(0, 40);
  for (int64_t i = 0; i < n; ++i) {
    submitted += uni(0, 30) * s;
    queued_job j;
    j.job_id = "j" + std::to_string(i);
    j.tenant = "t" + std::to_string(uni(0, tenants - 1));
    j.priority = static_cast<job_priority>(uni(0, 2));
    j.seq = static_cast<uint64_t>(i + 1);
    j.submitted_us = std::min(submitted, w.now);
    if (uni(0, 4) == 0)
      j.not_before_us = w.now + uni(-60, 60) * s;
    if (uni(0, 4) == 0)
      j.deadline_us = w.now + uni(-60, 60) * s;
    w.queued.push_back(j);
  }
  return w;
}

uint32_t at(const std::map<std::string, uint32_t>& m, const std::string& k) {
  auto i = m.find(k);
  return i == m.end() ? 0 : i->second;
}

void check_one_call(const workload& w, int round) {
  BOOST_TEST_CONTEXT("workload " << round) {
    auto picks = pick_jobs(w.queued, w.running, w.limits, w.now);
    auto global = std::max<uint32_t>(w.limits.global_concurrency, 1);
    auto step = w.limits.aging_step_us;
    std::vector<bool> picked(w.queued.size(), false);
    std::map<std::string, uint32_t> busy = w.running.per_tenant;
    for (size_t k = 0; k < picks.size(); ++k) {
      auto i = picks[k];
      BOOST_REQUIRE(i < w.queued.size());
      BOOST_REQUIRE(!picked[i]);
      picked[i] = true;
      BOOST_REQUIRE(eligible(w.queued[i], w.now));
      ++busy[w.queued[i].tenant];
      if (k > 0)
        BOOST_REQUIRE(order_key(w.queued[picks[k - 1]], step, w.now)
                      < order_key(w.queued[i], step, w.now));
    }
    // Caps: global, max_picks, each tenant's (counting what it ran before).
    BOOST_REQUIRE(picks.size() <= w.limits.max_picks);
    BOOST_REQUIRE(w.running.total + picks.size() <= std::max<size_t>(global, w.running.total));
    for (auto& [tenant, cap] : w.limits.tenant_max_concurrent)
      if (cap != 0)
        BOOST_REQUIRE(busy[tenant] <= std::max(cap, at(w.running.per_tenant, tenant)));
    bool full = w.running.total + picks.size() >= global || picks.size() >= w.limits.max_picks;
    for (size_t u = 0; u < w.queued.size(); ++u) {
      auto& job = w.queued[u];
      if (picked[u] || !eligible(job, w.now))
        continue;
      auto cap = at(w.limits.tenant_max_concurrent, job.tenant);
      bool tenant_full = cap != 0 && busy[job.tenant] >= cap;
      // Nothing that could start is left waiting: either the server or
      // the call is full (and every pick goes before it), or its tenant is.
      BOOST_REQUIRE(full || tenant_full);
      if (!tenant_full)
        for (auto p : picks)
          BOOST_REQUIRE(order_key(w.queued[p], step, w.now) < order_key(job, step, w.now));
      // FIFO within a lane for one tenant: no newer job of its tenant and
      // priority started before it.
      for (auto p : picks)
        if (w.queued[p].tenant == job.tenant && w.queued[p].priority == job.priority)
          BOOST_REQUIRE(w.queued[p].seq < job.seq);
    }
  }
}

// A server running each job for `run_ticks` one-second ticks, `global` at
// once, under a flood of `flood` high jobs per tick, with a low job or a
// normal job every few ticks. Returns, per low/normal job, its wait in ticks
// (-1: never started) and its bound from job_scheduling.hpp:
// lane × aging_step + ⌈(jobs ahead + 1) / global⌉ × run_ticks.
struct flood_result {
  std::vector<std::tuple<int64_t, int64_t>> waits_and_bounds;
};

flood_result simulate_flood(std::mt19937_64& rng, uint32_t global, int64_t run_ticks,
                            int64_t flood, int64_t aging_ticks, int64_t horizon) {
  std::uniform_int_distribution<int> dice(0, 9);
  scheduling_limits limits;
  limits.global_concurrency = global;
  limits.aging_step_us = aging_ticks * s;
  std::vector<queued_job> queue;
  std::deque<int64_t> ends; // tick each running job ends
  std::map<uint64_t, std::tuple<int64_t, int64_t>> watched; // seq -> submitted tick, bound
  flood_result out;
  uint64_t seq = 0;
  for (int64_t tick = 0; tick < horizon; ++tick) {
    int64_t now = t0 + tick * s;
    ends.erase(std::remove_if(ends.begin(), ends.end(), [&](int64_t e) { return e <= tick; }),
               ends.end());
    auto submit = [&](job_priority p) {
      queue.push_back({"j" + std::to_string(++seq), "t", p, seq, now, 0, 0});
    };
    for (int64_t i = 0; i < flood; ++i)
      submit(job_priority::high);
    if (int d = dice(rng); d <= 1) {
      submit(d == 0 ? job_priority::low : job_priority::normal);
      int64_t ahead = static_cast<int64_t>(queue.size()) - 1; // all have smaller seq
      int64_t lane = d == 0 ? 2 : 1;
      watched[seq] = {tick, lane * aging_ticks + (ahead + global) / global * run_ticks};
    }
    auto busy = static_cast<uint32_t>(ends.size());
    running_counts running{busy, {{"t", busy}}};
    auto picks = pick_jobs(queue, running, limits, now);
    std::vector<bool> gone(queue.size(), false);
    for (auto i : picks) {
      gone[i] = true;
      ends.push_back(tick + run_ticks);
      if (auto w = watched.find(queue[i].seq); w != watched.end()) {
        out.waits_and_bounds.emplace_back(tick - std::get<0>(w->second), std::get<1>(w->second));
        watched.erase(w);
      }
    }
    std::vector<queued_job> rest;
    for (size_t i = 0; i < queue.size(); ++i)
      if (!gone[i])
        rest.push_back(std::move(queue[i]));
    queue = std::move(rest);
  }
  for (auto& [seq_, w] : watched) // never started: only fine if its bound is past the horizon
    out.waits_and_bounds.emplace_back(-1 - (horizon - 1 - std::get<0>(w)), std::get<1>(w));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(job_scheduling_properties)

BOOST_AUTO_TEST_CASE(random_workloads_keep_every_cap_and_leave_nothing_startable) {
  std::mt19937_64 rng(20260412);
  for (int round = 0; round < 500; ++round)
    check_one_call(random_workload(rng), round);
}

// A negative wait -w-1 stands for "not started after w ticks".
BOOST_AUTO_TEST_CASE(no_starvation_under_a_flood_of_high_jobs) {
  std::mt19937_64 rng(20260413);
  std::uniform_int_distribution<int64_t> pick(1, 4);
  int checked = 0;
  for (int round = 0; round < 60; ++round) {
    auto global = static_cast<uint32_t>(pick(rng));
    auto run_ticks = pick(rng);
    auto flood = global / run_ticks + 1; // more arrive than finish: a flood
    auto aging = pick(rng) * 5;
    auto r = simulate_flood(rng, global, run_ticks, flood, aging, 150);
    for (auto& [wait, bound] : r.waits_and_bounds) {
      BOOST_TEST_CONTEXT("round " << round << " global " << global << " run " << run_ticks
                                  << " aging " << aging) {
        if (wait >= 0)
          BOOST_TEST(wait <= bound);
        else
          BOOST_TEST(-1 - wait < bound); // still within its bound when the run ended
      }
      checked += wait >= 0;
    }
  }
  BOOST_TEST(checked > 100);
}

BOOST_AUTO_TEST_CASE(without_aging_the_flood_starves_low_jobs) {
  std::mt19937_64 rng(20260413);
  auto r = simulate_flood(rng, 2, 2, 2, 0, 150);
  int starved = 0;
  for (auto& [wait, bound] : r.waits_and_bounds)
    starved += wait < 0 && -1 - wait >= bound;
  BOOST_TEST(starved > 0);
}

// Tenant a floods, capped below the server's size; tenant b submits one job
// per run length. With a's cap every b job starts in the tick it arrives;
// without it, a's older backlog keeps b waiting (the control).
BOOST_AUTO_TEST_CASE(a_capped_tenants_backlog_never_keeps_another_tenant_out) {
  auto simulate = [](bool cap_a) {
    constexpr uint32_t global = 4;
    constexpr int64_t run_ticks = 3;
    scheduling_limits limits;
    limits.global_concurrency = global;
    if (cap_a)
      limits.tenant_max_concurrent["a"] = 3;
    std::vector<queued_job> queue;
    std::vector<std::pair<std::string, int64_t>> running; // tenant, end tick
    std::map<uint64_t, int64_t> b_submitted;
    int64_t worst_b_wait = 0;
    uint64_t seq = 0;
    for (int64_t tick = 0; tick < 120; ++tick) {
      int64_t now = t0 + tick * s;
      running.erase(std::remove_if(running.begin(), running.end(),
                                   [&](auto& r) { return r.second <= tick; }),
                    running.end());
      for (int i = 0; i < 3; ++i, ++seq)
        queue.push_back({"a" + std::to_string(seq), "a", job_priority::high, seq, now, 0, 0});
      if (tick % run_ticks == 0) {
        queue.push_back({"b" + std::to_string(seq), "b", job_priority::low, seq, now, 0, 0});
        b_submitted[seq++] = tick;
      }
      running_counts rc{static_cast<uint32_t>(running.size()), {}};
      for (auto& r : running)
        ++rc.per_tenant[r.first];
      auto picks = pick_jobs(queue, rc, limits, now);
      std::vector<bool> gone(queue.size(), false);
      for (auto i : picks) {
        gone[i] = true;
        running.emplace_back(queue[i].tenant, tick + run_ticks);
        if (queue[i].tenant == "b")
          worst_b_wait = std::max(worst_b_wait, tick - b_submitted.at(queue[i].seq));
      }
      std::vector<queued_job> rest;
      for (size_t i = 0; i < queue.size(); ++i)
        if (!gone[i])
          rest.push_back(queue[i]);
        else if (queue[i].tenant == "b")
          b_submitted.erase(queue[i].seq);
      queue = std::move(rest);
      BOOST_REQUIRE(running.size() <= global);
      if (cap_a)
        BOOST_REQUIRE(std::count_if(running.begin(), running.end(),
                                    [](auto& r) { return r.first == "a"; })
                      <= 3);
    }
    for (auto& [seq_, tick] : b_submitted)
      worst_b_wait = std::max(worst_b_wait, 120 - tick);
    return worst_b_wait;
  };
  BOOST_TEST(simulate(true) == 0);
  BOOST_TEST(simulate(false) > 10);
}

BOOST_AUTO_TEST_SUITE_END()
