// The job queue's small decisions: the names of its enums, the lifecycle's
// moves, what a deadline asks for, and which role may do what.

#include <array>
#include <set>
#include <utility>

#include <boost/test/unit_test.hpp>

#include "core/jobs/authorization.hpp"
#include "core/jobs/job_deadlines.hpp"
#include "core/jobs/job_lifecycle.hpp"
#include "test/core/jobs_print.hpp"

using namespace troupe::jobs;

namespace {

constexpr std::array<job_status, 8> statuses{
  job_status::accepted, job_status::queued,   job_status::running, job_status::completed,
  job_status::failed,   job_status::canceled, job_status::expired, job_status::dead};

constexpr std::array<role, 4> roles{role::viewer, role::submitter, role::operator_, role::admin};

constexpr std::array<api_action, 6> actions{api_action::read,    api_action::submit,
                                            api_action::cancel,  api_action::approve,
                                            api_action::requeue, api_action::manage_tenants};

constexpr int64_t s = 1'000'000;

} // namespace

BOOST_AUTO_TEST_SUITE(jobs)

BOOST_AUTO_TEST_CASE(every_name_reads_back_and_unknown_names_do_not) {
  std::set<std::string_view> seen;
  for (auto st : statuses) {
    BOOST_TEST(seen.insert(to_string(st)).second);
    BOOST_TEST(job_status_from(to_string(st)) == st);
  }
  BOOST_TEST(to_string(job_status::canceled) == "canceled");
  for (auto p : {job_priority::high, job_priority::normal, job_priority::low})
    BOOST_TEST(job_priority_from(to_string(p)) == p);
  for (auto r : roles)
    BOOST_TEST(role_from(to_string(r)) == r);
  BOOST_TEST(to_string(role::operator_) == "operator");
  for (auto a : actions)
    BOOST_TEST(api_action_from(to_string(a)) == a);
  BOOST_TEST(!job_status_from("Queued"));
  BOOST_TEST(!job_status_from(""));
  BOOST_TEST(!job_priority_from("urgent"));
  BOOST_TEST(!role_from("operator_"));
  BOOST_TEST(!api_action_from("delete"));
}

BOOST_AUTO_TEST_CASE(final_statuses_are_the_ends) {
  std::set<job_status> finals{job_status::completed, job_status::failed, job_status::canceled,
                              job_status::expired, job_status::dead};
  for (auto st : statuses)
    BOOST_TEST(is_final(st) == (finals.count(st) == 1), to_string(st));
}

// Every pair of statuses: exactly the moves of the table in job_lifecycle.hpp.
BOOST_AUTO_TEST_CASE(the_lifecycle_allows_exactly_its_moves) {
  using j = job_status;
  std::set<std::pair<j, j>> allowed{
    {j::accepted, j::queued},  {j::queued, j::running},    {j::queued, j::canceled},
    {j::queued, j::expired},   {j::queued, j::failed},     {j::running, j::completed},
    {j::running, j::failed},   {j::running, j::canceled},  {j::running, j::queued},
    {j::running, j::dead},     {j::dead, j::queued}};
  for (auto from : statuses)
    for (auto to : statuses)
      BOOST_TEST(can_move(from, to) == (allowed.count({from, to}) == 1),
                 to_string(from) << " -> " << to_string(to));
  // Only dead leaves a final status, and only back to the queue.
  for (auto from : statuses)
    if (is_final(from) && from != j::dead)
      for (auto to : statuses)
        BOOST_TEST(!can_move(from, to));
}

BOOST_AUTO_TEST_CASE(a_queued_job_past_its_deadline_expires) {
  BOOST_TEST(deadline_action(job_status::queued, 100 * s, false, 100 * s - 1, false)
             == deadline_verdict::none);
  BOOST_TEST(deadline_action(job_status::queued, 100 * s, false, 100 * s, false)
             == deadline_verdict::expire);
  BOOST_TEST(deadline_action(job_status::queued, 100 * s, false, 500 * s, true)
             == deadline_verdict::expire);
  BOOST_TEST(deadline_action(job_status::queued, 0, false, 500 * s, true)
             == deadline_verdict::none);
}

BOOST_AUTO_TEST_CASE(a_running_job_past_its_deadline_is_marked_once_and_canceled_per_config) {
  BOOST_TEST(deadline_action(job_status::running, 100 * s, false, 99 * s, true)
             == deadline_verdict::none);
  BOOST_TEST(deadline_action(job_status::running, 100 * s, false, 100 * s, false)
             == deadline_verdict::mark_breached);
  BOOST_TEST(deadline_action(job_status::running, 100 * s, false, 100 * s, true)
             == deadline_verdict::cancel_breached);
  // Already marked: the mark (and the cancel asked with it) is not repeated.
  BOOST_TEST(deadline_action(job_status::running, 100 * s, true, 200 * s, true)
             == deadline_verdict::none);
  BOOST_TEST(deadline_action(job_status::running, 100 * s, true, 200 * s, false)
             == deadline_verdict::none);
  BOOST_TEST(deadline_action(job_status::running, 0, false, 200 * s, true)
             == deadline_verdict::none);
}

BOOST_AUTO_TEST_CASE(ended_and_unqueued_jobs_get_nothing_from_their_deadline) {
  for (auto st : statuses) {
    if (st == job_status::queued || st == job_status::running)
      continue;
    for (bool cancel : {false, true}) {
      BOOST_TEST(deadline_action(st, 100 * s, false, 200 * s, cancel) == deadline_verdict::none,
                 to_string(st));
      BOOST_TEST(deadline_wake_us(st, 100 * s, false) == 0);
    }
  }
  BOOST_TEST(deadline_wake_us(job_status::queued, 100 * s, false) == 100 * s);
  BOOST_TEST(deadline_wake_us(job_status::running, 100 * s, false) == 100 * s);
  BOOST_TEST(deadline_wake_us(job_status::running, 100 * s, true) == 0);
  BOOST_TEST(deadline_wake_us(job_status::queued, 0, false) == 0);
}

// Every role × action; each role includes the ones below it.
BOOST_AUTO_TEST_CASE(the_authorization_matrix) {
  using a = api_action;
  std::set<std::pair<role, a>> granted{
    {role::viewer, a::read},

    {role::submitter, a::read},        {role::submitter, a::submit},

    {role::operator_, a::read},        {role::operator_, a::submit},
    {role::operator_, a::cancel},      {role::operator_, a::approve},
    {role::operator_, a::requeue},

    {role::admin, a::read},            {role::admin, a::submit},
    {role::admin, a::cancel},          {role::admin, a::approve},
    {role::admin, a::requeue},         {role::admin, a::manage_tenants}};
  for (auto r : roles)
    for (auto act : actions)
      BOOST_TEST(allows(r, act) == (granted.count({r, act}) == 1),
                 to_string(r) << " " << to_string(act));
  for (auto act : actions) {
    BOOST_TEST(allows(least_role_for(act), act));
    for (auto r : roles)
      if (static_cast<int>(r) < static_cast<int>(least_role_for(act)))
        BOOST_TEST(!allows(r, act));
  }
  // A role value from a corrupt row grants nothing beyond admin's.
  auto bogus = static_cast<role>(17);
  for (auto act : actions)
    BOOST_TEST(!allows(bogus, act));
}

BOOST_AUTO_TEST_SUITE_END()
