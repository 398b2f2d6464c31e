#include "core/report/kpi_render.hpp"

#include <cstdio>

#include "core/jobs/utc_time.hpp"

namespace troupe::report {

using nlohmann::json;

namespace {

json opt(const std::optional<double>& x) {
  return x ? json(*x) : json(nullptr);
}

json dist_json(const distribution& d) {
  return {{"count", d.count}, {"p50", opt(d.p50)}, {"p90", opt(d.p90)}, {"max", opt(d.max)}};
}

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

std::string num(const std::optional<double>& x) {
  return x ? num(*x) : std::string{"-"};
}

std::string dist_cells(const distribution& d) {
  return num(d.p50) + " | " + num(d.p90) + " | " + num(d.max) + " | " + std::to_string(d.count);
}

// A table cell or list item from text a journal holds (a tenant, a phase
// name): no line breaks or other control characters, and no `|`.
std::string cell(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      out += '?';
    else if (c == '|')
      out += "\\|";
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string usd(uint64_t micro) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "$%.6f", static_cast<double>(micro) / 1e6);
  return buf;
}

} // namespace

json to_json(const kpi_figures& k) {
  json phases = json::array();
  for (auto& p : k.phases)
    phases.push_back({{"name", p.name}, {"attempts", p.attempts}, {"failed", p.failed},
                      {"ms", dist_json(p.ms)}});
  json tiers = json::array();
  for (auto& v : k.verification_ms)
    tiers.push_back({{"tier", v.tier}, {"attempts", v.attempts}, {"failed", v.failed},
                     {"ms", dist_json(v.ms)}});
  return {{"runs", k.runs},
          {"finished", k.finished},
          {"statuses",
           {{"running", k.running},
            {"completed", k.completed},
            {"limit_reached", k.limit_reached},
            {"failed", k.failed},
            {"canceled", k.canceled}}},
          {"run_ms", dist_json(k.run_ms)},
          {"turns_per_run", dist_json(k.turns_per_run)},
          {"model_calls_per_run", dist_json(k.model_calls_per_run)},
          {"phases", std::move(phases)},
          {"verification_ms", std::move(tiers)},
          {"model_calls", k.model_calls},
          {"tool_calls", k.tool_calls},
          {"parse_failures", k.parse_failures},
          {"parse_failures_per_100_model_calls", k.parse_failures_per_100_model_calls},
          {"retries", k.retries},
          {"retry_rate", k.retry_rate},
          {"approvals", k.approvals},
          {"approvals_granted", k.approvals_granted},
          {"approvals_denied", k.approvals_denied},
          {"approvals_timed_out", k.approvals_timed_out},
          {"human_interventions", k.human_interventions},
          {"denials", k.denials},
          {"out_of_scope", k.out_of_scope},
          {"governance_violations", k.governance_violations},
          {"input_tokens", k.input_tokens},
          {"output_tokens", k.output_tokens},
          {"cost_micro_usd", k.cost_micro_usd}};
}

json to_json(const kpi_report& r) {
  auto out = to_json(r.figures);
  out["since"] = r.since_us ? json(jobs::rfc3339_utc(*r.since_us)) : json(nullptr);
  out["tenant"] = r.tenant ? json(*r.tenant) : json(nullptr);
  if (r.series) {
    json series = json::array();
    for (auto& b : *r.series) {
      auto item = to_json(b.figures);
      item["start"] = jobs::rfc3339_utc(b.start_us);
      series.push_back(std::move(item));
    }
    out["series"] = std::move(series);
  }
  return out;
}

std::string to_markdown(const kpi_report& r) {
  auto& k = r.figures;
  std::string md = "# troupe report\n\n";
  md += "- since: " + (r.since_us ? jobs::rfc3339_utc(*r.since_us) : std::string{"the beginning"}) + "\n";
  md += "- tenant: " + (r.tenant ? cell(*r.tenant) : std::string{"all"}) + "\n";
  md += "- runs: " + std::to_string(k.runs) + " (" + std::to_string(k.finished) + " finished: "
        + std::to_string(k.completed) + " completed, " + std::to_string(k.limit_reached)
        + " limit reached, " + std::to_string(k.failed) + " failed, " + std::to_string(k.canceled)
        + " canceled; " + std::to_string(k.running) + " running)\n\n";
  md += "| per finished run | p50 | p90 | max | runs |\n| --- | ---: | ---: | ---: | ---: |\n";
  md += "| time (ms) | " + dist_cells(k.run_ms) + " |\n";
  md += "| turns | " + dist_cells(k.turns_per_run) + " |\n";
  md += "| model calls | " + dist_cells(k.model_calls_per_run) + " |\n\n";
  md += "| KPI | value |\n| --- | ---: |\n";
  auto row = [&](const std::string& name, const std::string& value) {
    md += "| " + name + " | " + value + " |\n";
  };
  row("model calls", std::to_string(k.model_calls));
  row("tool calls", std::to_string(k.tool_calls));
  row("parse failures per 100 model calls", num(k.parse_failures_per_100_model_calls));
  row("retries (rate per call)", std::to_string(k.retries) + " (" + num(k.retry_rate) + ")");
  row("approvals requested", std::to_string(k.approvals));
  row("human interventions (granted / denied)", std::to_string(k.human_interventions) + " ("
      + std::to_string(k.approvals_granted) + " / " + std::to_string(k.approvals_denied) + ")");
  row("approvals timed out", std::to_string(k.approvals_timed_out));
  row("governance violations (denials + out of scope)", std::to_string(k.governance_violations)
      + " (" + std::to_string(k.denials) + " + " + std::to_string(k.out_of_scope) + ")");
  row("tokens (input / output)",
      std::to_string(k.input_tokens) + " / " + std::to_string(k.output_tokens));
  row("cost", usd(k.cost_micro_usd));
  if (!k.phases.empty()) {
    md += "\n| phase | p50 ms | p90 ms | max ms | attempts | failed |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for (auto& p : k.phases)
      md += "| " + cell(p.name) + " | " + num(p.ms.p50) + " | " + num(p.ms.p90) + " | " + num(p.ms.max)
            + " | " + std::to_string(p.attempts) + " | " + std::to_string(p.failed) + " |\n";
  }
  if (!k.verification_ms.empty()) {
    md += "\n| verification tier | p50 ms | p90 ms | max ms | attempts | failed |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for (auto& v : k.verification_ms)
      md += "| " + v.tier + " | " + num(v.ms.p50) + " | " + num(v.ms.p90) + " | " + num(v.ms.max)
            + " | " + std::to_string(v.attempts) + " | " + std::to_string(v.failed) + " |\n";
  }
  return md;
}

} // namespace troupe::report
