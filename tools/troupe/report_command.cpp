// troupe report: reads the journal through persistence/kpi_reader.hpp (the
// same reader as GET /v1/kpis), renders with core/report/.

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/report/baseline.hpp"
#include "core/report/kpi_render.hpp"
#include "core/report/time_arg.hpp"
#include "core/runtime_errc.hpp"
#include "persistence/kpi_reader.hpp"
#include "schemas/errors.hpp"
#include "tools/troupe/report_command.hpp"

namespace troupe::cli {

namespace {

using nlohmann::json;

int usage(const std::string& what) {
  std::cerr << "troupe: " << what << std::endl;
  return exit_usage;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

caf::expected<json> read_baseline(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return caf::make_error(runtime_errc::invalid_arguments, path + ": " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return bad("cannot read the baseline file");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::parse(text.str(), nullptr, false);
  if (doc.is_discarded())
    return bad("not JSON (a baseline is the output of troupe report --json)");
  if (auto err = report::check_report_json(doc, path))
    return err;
  return doc;
}

caf::expected<std::map<std::string, double>> parse_thresholds(const std::vector<std::string>& in) {
  std::map<std::string, double> out;
  for (auto& t : in) {
    auto eq = t.find('=');
    auto bad = [&](const std::string& why) {
      return caf::make_error(runtime_errc::invalid_arguments, "--threshold '" + t + "': " + why);
    };
    if (eq == std::string::npos)
      return bad("expected KPI=PCT, e.g. run_ms.p90=20");
    auto name = t.substr(0, eq);
    if (!report::known_kpi(name))
      return bad("unknown KPI '" + name + "' (docs/cli.md lists them)");
    char* end = nullptr;
    auto text = t.substr(eq + 1);
    double pct = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(pct >= 0) || pct > 1e9)
      return bad("the percentage must be a number >= 0");
    out[name] = pct;
  }
  return out;
}

} // namespace

int kpi_report(const report_options& opts) {
  if (opts.common.json && opts.markdown)
    return usage("--json and --md: choose one");
  persistence::kpi_selection sel;
  if (!opts.since.empty()) {
    auto since = report::parse_since(opts.since, now_us());
    if (!since)
      return usage(render(since.error()));
    sel.since_us = *since;
  }
  if (!opts.tenant.empty())
    sel.tenant = opts.tenant;
  std::optional<report::bucket_size> bucket;
  if (opts.bucket == "hour")
    bucket = report::bucket_size::hour;
  else if (opts.bucket == "day")
    bucket = report::bucket_size::day;
  else if (!opts.bucket.empty())
    return usage("--bucket '" + opts.bucket + "': hour or day");
  auto thresholds = parse_thresholds(opts.thresholds);
  if (!thresholds)
    return usage(render(thresholds.error()));
  std::optional<json> baseline;
  if (!opts.baseline.empty()) {
    auto b = read_baseline(opts.baseline);
    if (!b)
      return usage(render(b.error()));
    baseline = std::move(*b);
  }
  if (auto err = check_db_path(opts.common.db))
    return report(err);
  auto db = persistence::store::open(opts.common.db, persistence::open_mode::read_only);
  if (!db)
    return report(db.error());
  auto facts = persistence::read_run_facts(*db, sel);
  if (!facts)
    return report(facts.error());
  auto rep = report::make_report(*facts, sel.since_us, sel.tenant, bucket);
  auto doc = report::to_json(rep);
  std::optional<report::baseline_result> cmp;
  if (baseline)
    cmp = report::compare(*baseline, doc, *thresholds);
  if (opts.common.json) {
    if (cmp)
      doc["baseline"] = report::to_json(*cmp);
    std::cout << doc.dump(2) << std::endl;
  } else {
    std::cout << report::to_markdown(rep);
    if (cmp)
      std::cout << report::to_markdown(*cmp);
    std::cout << std::flush;
  }
  if (cmp && cmp->regressed()) {
    std::string names;
    for (auto& k : cmp->kpis)
      if (k.regressed)
        names += (names.empty() ? "" : ", ") + k.kpi;
    std::cerr << "troupe: regressed against " << opts.baseline << ": " << names << std::endl;
    return exit_regressed;
  }
  return exit_ok;
}

} // namespace troupe::cli
