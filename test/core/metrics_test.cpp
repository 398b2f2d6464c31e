// Metric families and the Prometheus text format: exact bytes for a known
// input, escaping, cumulative buckets, and the series cap.

#include <cmath>
#include <limits>
#include <string>

#include <boost/test/unit_test.hpp>

#include "core/metrics/exposition.hpp"
#include "core/metrics/family.hpp"

using namespace troupe::metrics;

BOOST_AUTO_TEST_SUITE(metrics_exposition)

BOOST_AUTO_TEST_CASE(counter_and_gauge_render_exactly) {
  family c{"jobs_total", "Jobs seen.", metric_type::counter, {"tenant", "status"}};
  c.inc({"b", "ok"});
  c.inc({"a", "ok"}, 2);
  c.inc({"a", "ok"}, 0.5);
  c.inc({"a", "ok"}, -3); // counters never go down
  family g{"depth", "Queue depth.", metric_type::gauge};
  family h{"empty_total", "Nothing yet.", metric_type::counter, {"tool"}};
  BOOST_TEST(render({&c, &g, &h}) == "# HELP jobs_total Jobs seen.\n"
                                     "# TYPE jobs_total counter\n"
                                     "jobs_total{tenant=\"a\",status=\"ok\"} 2.5\n"
                                     "jobs_total{tenant=\"b\",status=\"ok\"} 1\n"
                                     "# HELP depth Queue depth.\n"
                                     "# TYPE depth gauge\n"
                                     "depth 0\n"
                                     "# HELP empty_total Nothing yet.\n"
                                     "# TYPE empty_total counter\n");
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_with_inf) {
  family h{"lat_seconds", "Latency.", metric_type::histogram, {"endpoint"}, {0.1, 1}};
  h.observe({"e"}, 0.05);
  h.observe({"e"}, 0.1); // on the bound: le is inclusive
  h.observe({"e"}, 0.5);
  h.observe({"e"}, 7);
  BOOST_TEST(render({&h}) == "# HELP lat_seconds Latency.\n"
                             "# TYPE lat_seconds histogram\n"
                             "lat_seconds_bucket{endpoint=\"e\",le=\"0.1\"} 2\n"
                             "lat_seconds_bucket{endpoint=\"e\",le=\"1\"} 3\n"
                             "lat_seconds_bucket{endpoint=\"e\",le=\"+Inf\"} 4\n"
                             "lat_seconds_sum{endpoint=\"e\"} 7.65\n"
                             "lat_seconds_count{endpoint=\"e\"} 4\n");
}

BOOST_AUTO_TEST_CASE(unlabeled_empty_histogram_renders_zeros) {
  family h{"wait_seconds", "Wait.", metric_type::histogram, {}, {1}};
  BOOST_TEST(render({&h}) == "# HELP wait_seconds Wait.\n"
                             "# TYPE wait_seconds histogram\n"
                             "wait_seconds_bucket{le=\"1\"} 0\n"
                             "wait_seconds_bucket{le=\"+Inf\"} 0\n"
                             "wait_seconds_sum 0\n"
                             "wait_seconds_count 0\n");
}

BOOST_AUTO_TEST_CASE(merge_adds_a_distribution) {
  family h{"b", "B.", metric_type::histogram, {}, {1, 2}};
  h.observe({}, 0.5);
  h.merge({}, {1, 0, 2}, 10.5);
  auto* s = h.find({});
  BOOST_REQUIRE(s != nullptr);
  BOOST_TEST(s->count == 4u);
  BOOST_TEST(s->buckets[0] == 2u);
  BOOST_TEST(s->buckets[2] == 2u);
  BOOST_TEST(s->sum == 11.0);
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
  family c{"x_total", "Back\\slash and\nnewline \"kept\".", metric_type::counter, {"tool"}};
  c.inc({"a\"b\\c\nd"});
  BOOST_TEST(render({&c}) == "# HELP x_total Back\\\\slash and\\nnewline \"kept\".\n"
                             "# TYPE x_total counter\n"
                             "x_total{tool=\"a\\\"b\\\\c\\nd\"} 1\n");
  BOOST_TEST(escape_label_value("plain") == "plain");
}

BOOST_AUTO_TEST_CASE(values_are_formatted_for_the_format) {
  BOOST_TEST(format_value(0) == "0");
  BOOST_TEST(format_value(42) == "42");
  BOOST_TEST(format_value(-3) == "-3");
  BOOST_TEST(format_value(0.1) == "0.1");
  BOOST_TEST(format_value(1e-6) == "1e-06");
  BOOST_TEST(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  BOOST_TEST(format_value(std::nan("")) == "NaN");
  double third = 1.0 / 3;
  BOOST_TEST(std::stod(format_value(third)) == third);
}

BOOST_AUTO_TEST_CASE(series_beyond_the_cap_go_to_other) {
  family c{"calls_total", "Calls.", metric_type::counter, {"tool", "decision"}, {}, 3};
  for (int i = 0; i < 1000; ++i)
    c.inc({"hostile-" + std::to_string(i), "allow"});
  BOOST_TEST(c.all().size() == 4u); // three named, one overflow
  auto* other = c.find({"other", "other"});
  BOOST_REQUIRE(other != nullptr);
  BOOST_TEST(other->value == 997.0);
  BOOST_TEST(c.overflowed() == 997u);
  c.inc({"hostile-0", "allow"}); // a series that exists keeps counting
  BOOST_TEST(c.find({"hostile-0", "allow"})->value == 2.0);
}

BOOST_AUTO_TEST_CASE(bucket_of_is_inclusive_upper_bound) {
  std::vector<double> b{1, 2};
  BOOST_TEST(bucket_of(b, 0.5) == 0u);
  BOOST_TEST(bucket_of(b, 1) == 0u);
  BOOST_TEST(bucket_of(b, 1.5) == 1u);
  BOOST_TEST(bucket_of(b, 3) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
