#include "core/tool_budget.hpp"

#include <cstdint>
#include <limits>

#include <boost/test/unit_test.hpp>

using std::chrono::milliseconds;
using troupe::tool_wait_for;

namespace {

constexpr int64_t start = 1'700'000'000'000'000; // microseconds, a 2023 date
constexpr auto minute = milliseconds{60000};

} // namespace

BOOST_AUTO_TEST_SUITE(tool_budget)

BOOST_AUTO_TEST_CASE(no_deadline_waits_the_tool_timeout) {
  auto w = tool_wait_for(minute, 0, start, start + 5'000'000);
  BOOST_TEST(w.wait.count() == 60000);
  BOOST_TEST(!w.cut_by_deadline);
}

BOOST_AUTO_TEST_CASE(the_remaining_deadline_cuts_the_wait) {
  // 2 s deadline, 500 ms used: 1500 ms left, less than the timeout.
  auto w = tool_wait_for(minute, 2000, start, start + 500'000);
  BOOST_TEST(w.wait.count() == 1500);
  BOOST_TEST(w.cut_by_deadline);
  // Partial milliseconds round up, so the wait never ends before the deadline.
  BOOST_TEST(tool_wait_for(minute, 2000, start, start + 500'001).wait.count() == 1500);
  BOOST_TEST(tool_wait_for(minute, 2000, start, start + 1'999'999).wait.count() == 1);
  // More time left than the timeout: the timeout rules.
  auto long_run = tool_wait_for(minute, 3'600'000, start, start + 1'000'000);
  BOOST_TEST(long_run.wait.count() == 60000);
  BOOST_TEST(!long_run.cut_by_deadline);
}

BOOST_AUTO_TEST_CASE(a_passed_deadline_leaves_no_wait) {
  auto at = tool_wait_for(minute, 2000, start, start + 2'000'000);
  BOOST_TEST(at.wait.count() == 0);
  BOOST_TEST(at.cut_by_deadline);
  BOOST_TEST(tool_wait_for(minute, 1, start, start + 10'000'000).wait.count() == 0);
}

BOOST_AUTO_TEST_CASE(huge_values_saturate) {
  constexpr auto max_u64 = std::numeric_limits<uint64_t>::max();
  constexpr auto max_i64 = std::numeric_limits<int64_t>::max();
  constexpr auto min_i64 = std::numeric_limits<int64_t>::min();
  // deadline_ms * 1000 would overflow for both.
  for (uint64_t deadline : {uint64_t(max_i64), max_u64, max_u64 / 999}) {
    auto w = tool_wait_for(minute, deadline, start, start + 1'000'000);
    BOOST_TEST(w.wait.count() == 60000, deadline);
    BOOST_TEST(!w.cut_by_deadline);
  }
  // A clock that went back counts as no time used.
  BOOST_TEST(tool_wait_for(minute, 2000, start, start - 5'000'000).wait.count() == 2000);
  BOOST_TEST(tool_wait_for(minute, 2000, max_i64, min_i64).wait.count() == 2000);
  // now - started overflows upwards: the deadline has long passed.
  BOOST_TEST(tool_wait_for(minute, 2000, min_i64, max_i64).wait.count() == 0);
  BOOST_TEST(tool_wait_for(milliseconds{-5}, 0, start, start).wait.count() == 0);
  BOOST_TEST(tool_wait_for(milliseconds::max(), 0, start, start).wait.count()
             == milliseconds::max().count());
}

BOOST_AUTO_TEST_CASE(texts_name_the_tool_and_the_bound) {
  auto cut = troupe::tool_timeout_text("append_file", {milliseconds{1500}, true});
  BOOST_TEST(cut.rfind("append_file: timed out after 1500 ms, when the run's deadline", 0)
             == 0u, cut);
  auto plain = troupe::tool_timeout_text("shell", {milliseconds{60000}, false});
  BOOST_TEST(plain.find("60000 ms (the tool timeout)") != std::string::npos, plain);
  auto skipped = troupe::tool_not_started_text("read_file", 2000);
  BOOST_TEST(skipped == "read_file: not run: the run's deadline of 2000 ms passed before "
                        "the call could start");
}

BOOST_AUTO_TEST_SUITE_END()
