#pragma once
// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), the body
// of `GET /metrics`:
//
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
//
// A histogram's series become `<name>_bucket{...,le="<bound>"}` lines with
// cumulative counts, the last with le="+Inf" (equal to the count), then
// `<name>_sum` and `<name>_count`. Families are written in the order given,
// series in label order, so equal input gives equal bytes. A family without
// labels and without series is written as one zero sample, so that it is
// scraped from the start.

#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/family.hpp"

namespace troupe::metrics {

/// The content type of the format.
inline constexpr std::string_view exposition_content_type =
  "text/plain; version=0.0.4; charset=utf-8";

/// Appends `f` in the text format to `out`.
void render(const family& f, std::string& out);
/// All of `families`, in order.
[[nodiscard]] std::string render(const std::vector<const family*>& families);

/// A label value escaped for the format: backslash, double quote, newline.
[[nodiscard]] std::string escape_label_value(std::string_view v);
/// A sample value: integers without a fraction, others in the shortest form
/// that reads back to the same double; NaN, +Inf, -Inf as the format spells them.
[[nodiscard]] std::string format_value(double v);

} // namespace troupe::metrics
