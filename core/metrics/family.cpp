#include "core/metrics/family.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace troupe::metrics {

family::family(std::string name, std::string help, metric_type type,
               std::vector<std::string> label_names, std::vector<double> bounds,
               size_t max_series)
  : name_(std::move(name)), help_(std::move(help)), type_(type),
    label_names_(std::move(label_names)), bounds_(std::move(bounds)),
    max_series_(std::max<size_t>(max_series, 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  assert(type_ == metric_type::histogram || bounds_.empty());
}

series& family::slot(const label_values& labels) {
  assert(labels.size() == label_names_.size());
  auto i = series_.find(labels);
  if (i != series_.end())
    return i->second;
  label_values key = labels;
  // The overflow series is not counted against the cap: it is the one extra.
  size_t own = series_.size() - (series_.count(label_values(labels.size(), "other")) ? 1 : 0);
  if (own >= max_series_) {
    ++overflowed_;
    key.assign(labels.size(), "other");
  }
  auto& s = series_[key];
  if (type_ == metric_type::histogram && s.buckets.empty())
    s.buckets.assign(bounds_.size() + 1, 0);
  return s;
}

void family::inc(const label_values& labels, double v) {
  assert(type_ == metric_type::counter || type_ == metric_type::gauge);
  if (!(v >= 0) && type_ == metric_type::counter)
    return;
  slot(labels).value += v;
}

void family::set(const label_values& labels, double v) {
  assert(type_ == metric_type::gauge);
  slot(labels).value = v;
}

size_t bucket_of(const std::vector<double>& bounds, double x) {
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), x) - bounds.begin());
}

void family::observe(const label_values& labels, double x) {
  assert(type_ == metric_type::histogram);
  if (std::isnan(x))
    return;
  auto& s = slot(labels);
  s.buckets[bucket_of(bounds_, x)] += 1;
  s.sum += x;
  s.count += 1;
}

void family::merge(const label_values& labels, const std::vector<uint64_t>& buckets,
                   double sum) {
  assert(type_ == metric_type::histogram && buckets.size() == bounds_.size() + 1);
  auto& s = slot(labels);
  for (size_t i = 0; i < buckets.size(); ++i) {
    s.buckets[i] += buckets[i];
    s.count += buckets[i];
  }
  s.sum += sum;
}

void family::touch(const label_values& labels) {
  slot(labels);
}

const series* family::find(const label_values& labels) const {
  auto i = series_.find(labels);
  return i == series_.end() ? nullptr : &i->second;
}

const std::vector<double>& latency_bounds_s() {
  static const std::vector<double> b{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60,   120};
  return b;
}

const std::vector<double>& duration_bounds_s() {
  static const std::vector<double> b{0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600};
  return b;
}

} // namespace troupe::metrics
