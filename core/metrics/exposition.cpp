#include "core/metrics/exposition.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace troupe::metrics {

namespace {

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// `{a="x",b="y"}` (with `le` last when given); empty when there are no labels.
void labels(const family& f, const label_values& values, const std::string* le,
            std::string& out) {
  if (values.empty() && le == nullptr)
    return;
  out += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out += ',';
    out += f.label_names()[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (le != nullptr) {
    if (!values.empty())
      out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void sample(std::string& out, const std::string& name, const family& f,
            const label_values& values, const std::string* le, const std::string& value) {
  out += name;
  labels(f, values, le, out);
  out += ' ';
  out += value;
  out += '\n';
}

void histogram_series(const family& f, const label_values& values, const series& s,
                      std::string& out) {
  uint64_t cumulative = 0;
  auto bucket = f.name() + "_bucket";
  for (size_t i = 0; i <= f.bounds().size(); ++i) {
    cumulative += i < s.buckets.size() ? s.buckets[i] : 0;
    auto le = i < f.bounds().size() ? format_value(f.bounds()[i]) : std::string("+Inf");
    sample(out, bucket, f, values, &le, std::to_string(cumulative));
  }
  sample(out, f.name() + "_sum", f, values, nullptr, format_value(s.sum));
  sample(out, f.name() + "_count", f, values, nullptr, std::to_string(s.count));
}

} // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

void render(const family& f, std::string& out) {
  out += "# HELP ";
  out += f.name();
  out += ' ';
  out += escape_help(f.help());
  out += "\n# TYPE ";
  out += f.name();
  out += ' ';
  out += type_name(f.type());
  out += '\n';
  if (f.all().empty() && f.label_names().empty()) {
    if (f.type() == metric_type::histogram)
      histogram_series(f, {}, series{}, out);
    else
      sample(out, f.name(), f, {}, nullptr, "0");
    return;
  }
  for (auto& [values, s] : f.all()) {
    if (f.type() == metric_type::histogram)
      histogram_series(f, values, s, out);
    else
      sample(out, f.name(), f, values, nullptr, format_value(s.value));
  }
}

std::string render(const std::vector<const family*>& families) {
  std::string out;
  for (auto* f : families)
    render(*f, out);
  return out;
}

} // namespace troupe::metrics
