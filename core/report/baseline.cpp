#include "core/report/baseline.hpp"

#include <cmath>
#include <cstdio>
#include <functional>

#include "core/runtime_errc.hpp"

namespace troupe::report {

using nlohmann::json;

namespace {

using extract = std::function<std::optional<double>(const json&)>;

struct gated_kpi {
  std::string name;
  bool higher_is_worse;
  extract get;
};

std::optional<double> number_at(const json& doc, const std::vector<std::string>& path) {
  const json* at = &doc;
  for (auto& key : path) {
    if (!at->is_object())
      return std::nullopt;
    auto it = at->find(key);
    if (it == at->end())
      return std::nullopt;
    at = &*it;
  }
  if (!at->is_number())
    return std::nullopt;
  return at->get<double>();
}

extract at(std::vector<std::string> path) {
  return [path](const json& doc) { return number_at(doc, path); };
}

extract per_run(std::vector<std::vector<std::string>> sum) {
  return [sum](const json& doc) -> std::optional<double> {
    auto runs = number_at(doc, {"runs"});
    if (!runs || *runs <= 0)
      return std::nullopt;
    double total = 0;
    for (auto& path : sum) {
      auto x = number_at(doc, path);
      if (!x)
        return std::nullopt;
      total += *x;
    }
    return total / *runs;
  };
}

std::optional<double> success_rate(const json& doc) {
  auto finished = number_at(doc, {"finished"});
  auto completed = number_at(doc, {"statuses", "completed"});
  if (!finished || !completed || *finished <= 0)
    return std::nullopt;
  return *completed / *finished;
}

// The p90 of the item of `list` whose `key` is `name`.
extract item_p90(std::string list, std::string key, std::string name) {
  return [=](const json& doc) -> std::optional<double> {
    auto it = doc.find(list);
    if (it == doc.end() || !it->is_array())
      return std::nullopt;
    for (auto& item : *it)
      if (item.is_object() && item.value(key, json()) == json(name))
        return number_at(item, {"ms", "p90"});
    return std::nullopt;
  };
}

std::vector<gated_kpi> fixed_kpis() {
  return {
    {"run_ms.p50", true, at({"run_ms", "p50"})},
    {"run_ms.p90", true, at({"run_ms", "p90"})},
    {"turns_per_run.p50", true, at({"turns_per_run", "p50"})},
    {"turns_per_run.p90", true, at({"turns_per_run", "p90"})},
    {"model_calls_per_run.p50", true, at({"model_calls_per_run", "p50"})},
    {"model_calls_per_run.p90", true, at({"model_calls_per_run", "p90"})},
    {"parse_failures_per_100_model_calls", true, at({"parse_failures_per_100_model_calls"})},
    {"retry_rate", true, at({"retry_rate"})},
    {"success_rate", false, success_rate},
    {"cost_per_run", true, per_run({{"cost_micro_usd"}})},
    {"tokens_per_run", true, per_run({{"input_tokens"}, {"output_tokens"}})},
    {"denials_per_run", true, per_run({{"denials"}})},
    {"out_of_scope_per_run", true, per_run({{"out_of_scope"}})},
    {"human_interventions_per_run", true, per_run({{"human_interventions"}})},
  };
}

// The fixed KPIs, then one per phase and verification tier of the baseline.
std::vector<gated_kpi> kpis_of(const json& baseline) {
  auto out = fixed_kpis();
  auto add = [&](const char* list, const char* key, const char* prefix) {
    auto it = baseline.find(list);
    if (it == baseline.end() || !it->is_array())
      return;
    for (auto& item : *it)
      if (item.is_object() && item.contains(key) && item[key].is_string()) {
        auto name = item[key].get<std::string>();
        out.push_back({std::string{prefix} + name + ".p90", true, item_p90(list, key, name)});
      }
  };
  add("phases", "name", "phase.");
  add("verification_ms", "tier", "verification.");
  return out;
}

bool has_prefix_and_suffix(const std::string& s, const std::string& prefix) {
  const std::string suffix = ".p90";
  return s.size() > prefix.size() + suffix.size() && s.compare(0, prefix.size(), prefix) == 0
         && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

bool baseline_result::regressed() const {
  for (auto& k : kpis)
    if (k.regressed)
      return true;
  return false;
}

caf::error check_report_json(const json& doc, const std::string& origin) {
  auto bad = [&](const std::string& why) {
    return caf::make_error(runtime_errc::invalid_arguments,
                           origin + ": not a troupe report (troupe report --json): " + why);
  };
  if (!doc.is_object())
    return bad("not a JSON object");
  for (auto* key : {"runs", "finished", "model_calls", "tool_calls", "parse_failures_per_100_model_calls",
                    "retry_rate", "denials", "out_of_scope", "human_interventions",
                    "input_tokens", "output_tokens", "cost_micro_usd"})
    if (!doc.contains(key) || !doc[key].is_number())
      return bad(std::string{"no number '"} + key + "'");
  for (auto* key : {"run_ms", "turns_per_run", "model_calls_per_run", "statuses"})
    if (!doc.contains(key) || !doc[key].is_object())
      return bad(std::string{"no object '"} + key + "'");
  for (auto* key : {"phases", "verification_ms"})
    if (!doc.contains(key) || !doc[key].is_array())
      return bad(std::string{"no array '"} + key + "'");
  return {};
}

bool known_kpi(const std::string& kpi) {
  for (auto& k : fixed_kpis())
    if (k.name == kpi)
      return true;
  return has_prefix_and_suffix(kpi, "phase.") || has_prefix_and_suffix(kpi, "verification.");
}

baseline_result compare(const json& baseline, const json& current,
                        const std::map<std::string, double>& thresholds) {
  baseline_result out;
  for (auto& k : kpis_of(baseline)) {
    kpi_comparison c;
    c.kpi = k.name;
    c.higher_is_worse = k.higher_is_worse;
    c.baseline = k.get(baseline);
    c.current = k.get(current);
    if (auto t = thresholds.find(k.name); t != thresholds.end())
      c.threshold_pct = t->second;
    if (c.baseline && c.current) {
      double worse_by = k.higher_is_worse ? *c.current - *c.baseline : *c.baseline - *c.current;
      if (*c.baseline != 0) {
        c.change_pct = 100.0 * (*c.current - *c.baseline) / std::fabs(*c.baseline);
        c.regressed = worse_by > 0 && 100.0 * worse_by / std::fabs(*c.baseline) > c.threshold_pct;
      } else {
        c.regressed = worse_by > 0;
      }
    } else if (c.baseline) {
      // Gone from the current report (no finished run, a phase that no
      // longer runs): nothing shows it did not get worse, and a gate that
      // passed on an empty selection (a wrong --db or --since) would hide
      // exactly the failures it is there for.
      c.regressed = true;
    }
    out.kpis.push_back(std::move(c));
  }
  return out;
}

json to_json(const baseline_result& r) {
  auto opt = [](const std::optional<double>& x) { return x ? json(*x) : json(nullptr); };
  json kpis = json::array();
  json regressions = json::array();
  for (auto& k : r.kpis) {
    kpis.push_back({{"kpi", k.kpi},
                    {"worse", k.higher_is_worse ? "higher" : "lower"},
                    {"baseline", opt(k.baseline)},
                    {"current", opt(k.current)},
                    {"change_pct", opt(k.change_pct)},
                    {"threshold_pct", k.threshold_pct},
                    {"compared", k.baseline && k.current},
                    {"regressed", k.regressed}});
    if (k.regressed)
      regressions.push_back(k.kpi);
  }
  return {{"kpis", std::move(kpis)}, {"regressions", std::move(regressions)}};
}

std::string to_markdown(const baseline_result& r) {
  auto num = [](const std::optional<double>& x) {
    if (!x)
      return std::string{"-"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", *x);
    return std::string{buf};
  };
  std::string md = "\n## Against the baseline\n\n"
                   "| KPI | baseline | now | change % | threshold % | |\n"
                   "| --- | ---: | ---: | ---: | ---: | --- |\n";
  for (auto& k : r.kpis) {
    std::string verdict = !(k.baseline && k.current) ? "not compared"
                          : k.regressed              ? "**REGRESSED**"
                                                     : "ok";
    std::string name;
    for (unsigned char c : k.kpi)
      name += c < 0x20 || c == 0x7f ? std::string{"?"} : c == '|' ? std::string{"\\|"} : std::string(1, static_cast<char>(c));
    md += "| " + name + " | " + num(k.baseline) + " | " + num(k.current) + " | " + num(k.change_pct)
          + " | " + num(k.threshold_pct) + " | " + verdict + " |\n";
  }
  return md;
}

} // namespace troupe::report
