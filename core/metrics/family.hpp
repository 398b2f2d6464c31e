#pragma once
// Metric families in the Prometheus data model: a name, a help text, label
// names, and one series per distinct tuple of label values. Pure and not
// thread-safe: whoever owns a family serializes its updates and renders
// (serve/metrics_hub.hpp holds a mutex).
//
// Bounded memory: a family holds at most `max_series` label tuples. An
// update with a new tuple beyond that lands in one overflow series whose
// every label value is "other", and `overflowed()` counts such updates, so
// a flood of hostile tool names (or endpoints, or tenants) costs one series,
// not one per name. Callers never pass unbounded values (a run id): the cap
// is the last line, not the design.
//
// Histograms have fixed upper bounds (`le`), ascending and finite; the
// +Inf bucket is implicit. Counts are stored per bucket and made cumulative
// when rendered (core/metrics/exposition.hpp).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace troupe::metrics {

enum class metric_type : uint8_t { counter, gauge, histogram };

/// The value of one series: `value` for counters and gauges; for histograms
/// the per-bucket counts (one per bound, then +Inf), sum and count.
struct series {
  double value = 0;
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

using label_values = std::vector<std::string>;

class family {
public:
  /// REQUIRES: `bounds` ascending and finite (histograms only), label
  /// names valid Prometheus names and not `le`.
  family(std::string name, std::string help, metric_type type,
         std::vector<std::string> label_names = {}, std::vector<double> bounds = {},
         size_t max_series = 1000);

  /// Counters: adds `v` (negative values are ignored: counters only grow).
  void inc(const label_values& labels, double v = 1);
  /// Gauges: sets the series.
  void set(const label_values& labels, double v);
  /// Histograms: counts `x` in the first bucket whose bound is >= x.
  void observe(const label_values& labels, double x);
  /// Histograms: adds a whole distribution (counts per bucket as `series`
  /// holds them, with their sum), e.g. a snapshot another thread kept.
  void merge(const label_values& labels, const std::vector<uint64_t>& buckets, double sum);

  /// Makes a series exist (at zero) so that it is rendered before anything
  /// happened: rates over it then start from the first scrape.
  void touch(const label_values& labels);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& help() const { return help_; }
  [[nodiscard]] metric_type type() const { return type_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  [[nodiscard]] const std::vector<double>& bounds() const { return bounds_; }
  /// Every series, ordered by label values.
  [[nodiscard]] const std::map<label_values, series>& all() const { return series_; }
  /// Updates that went to the overflow series because the cap was reached.
  [[nodiscard]] uint64_t overflowed() const { return overflowed_; }
  /// The series of `labels`, or nullptr.
  [[nodiscard]] const series* find(const label_values& labels) const;

private:
  series& slot(const label_values& labels);

  std::string name_;
  std::string help_;
  metric_type type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  size_t max_series_;
  std::map<label_values, series> series_;
  uint64_t overflowed_ = 0;
};

/// Upper bounds in seconds for latencies from 5 ms to 2 min.
[[nodiscard]] const std::vector<double>& latency_bounds_s();
/// Upper bounds in seconds for waits and durations from 100 ms to 1 h.
[[nodiscard]] const std::vector<double>& duration_bounds_s();
/// The bucket of `x` among `bounds` (bounds.size() for +Inf).
[[nodiscard]] size_t bucket_of(const std::vector<double>& bounds, double x);

} // namespace troupe::metrics
