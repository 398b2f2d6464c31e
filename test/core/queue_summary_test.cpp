// The tenant's view of the queue: counts per lane, the oldest queued job's
// wait, and what does not count (final jobs, running jobs' ages).

#include <boost/test/unit_test.hpp>

#include "core/jobs/queue_summary.hpp"

using namespace troupe::jobs;

namespace {

constexpr int64_t s = 1'000'000;

job make(job_priority p, job_status st, int64_t submitted_us) {
  job j;
  j.priority = p;
  j.status = st;
  j.submitted_us = submitted_us;
  return j;
}

} // namespace

BOOST_AUTO_TEST_SUITE(queue_summary_suite)

BOOST_AUTO_TEST_CASE(empty_queue_has_no_wait) {
  auto q = summarize_queue({}, 100 * s);
  BOOST_TEST(q.queued == 0u);
  BOOST_TEST(q.running == 0u);
  BOOST_TEST(q.oldest_wait_ms == 0);
  BOOST_TEST((q.lanes[0].priority == job_priority::high));
  BOOST_TEST((q.lanes[2].priority == job_priority::low));
}

BOOST_AUTO_TEST_CASE(counts_per_lane_and_oldest_queued_wait) {
  std::vector<job> jobs{
    make(job_priority::high, job_status::queued, 90 * s),
    make(job_priority::high, job_status::queued, 95 * s),
    make(job_priority::high, job_status::running, 10 * s), // running: no wait
    make(job_priority::low, job_status::queued, 40 * s),
    make(job_priority::normal, job_status::completed, 1 * s), // final: not counted
    make(job_priority::normal, job_status::running, 50 * s),
  };
  auto q = summarize_queue(jobs, 100 * s);
  BOOST_TEST(q.queued == 3u);
  BOOST_TEST(q.running == 2u);
  BOOST_TEST(q.lanes[0].queued == 2u);
  BOOST_TEST(q.lanes[0].running == 1u);
  BOOST_TEST(q.lanes[0].oldest_submitted_us == 90 * s);
  BOOST_TEST(q.lanes[0].oldest_wait_ms == 10'000);
  BOOST_TEST(q.lanes[1].queued == 0u);
  BOOST_TEST(q.lanes[1].running == 1u);
  BOOST_TEST(q.lanes[1].oldest_wait_ms == 0);
  BOOST_TEST(q.lanes[2].oldest_wait_ms == 60'000);
  BOOST_TEST(q.oldest_wait_ms == 60'000);
}

BOOST_AUTO_TEST_CASE(a_clock_that_stepped_back_shows_no_negative_wait) {
  auto q = summarize_queue({make(job_priority::normal, job_status::queued, 200 * s)}, 100 * s);
  BOOST_TEST(q.lanes[1].oldest_wait_ms == 0);
  BOOST_TEST(q.oldest_wait_ms == 0);
}

BOOST_AUTO_TEST_SUITE_END()
