// `troupe models [SCENARIO] --db PATH`: the endpoints and models the gateway
// knows, with their health (score, breaker, latency p50/p90, error rate,
// requests, cost) and their endpoint's last periodic check from the journal
// database, and, given a scenario, what each endpoint itself lists right now
// (a check made here: listed, warm or cold for Ollama).

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/event_summary.hpp"
#include "core/gateway/health_json.hpp"
#include "actors/endpoint_check.hpp"
#include "core/scenario.hpp"
#include "core/secrets.hpp"
#include "net/http_client.hpp"
#include "persistence/health_store.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

struct model_row {
  std::string endpoint;
  std::string model;
  std::string provider;
  std::string base_url;
  std::optional<saved_health> health;
  std::string listing; ///< discovery: listed, warm, cold, missing, or why it failed
};

// The endpoint's check, waited for: a handful of requests, not a hot path.
endpoint_check check_now(net::http_client& http, const endpoint_config& e,
                         const std::string& api_key) {
  std::promise<endpoint_check> done;
  auto result = done.get_future();
  check_endpoint(http, e, api_key, [&done](endpoint_check c) { done.set_value(std::move(c)); });
  return result.get();
}

// What a check says about `model`.
std::string listing_of(const endpoint_check& c, const std::string& model) {
  if (!c.ok)
    return "unreachable: " + c.error;
  if (c.models.empty())
    return "";
  auto i = c.models.find(model);
  return i != c.models.end() ? i->second : "missing";
}

std::string ms(std::optional<uint64_t> us) {
  if (!us)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(*us) / 1000.0);
  return buf;
}

nlohmann::ordered_json row_json(const model_row& r) {
  nlohmann::ordered_json j{{"endpoint", r.endpoint}, {"model", r.model}};
  if (!r.provider.empty()) {
    j["provider"] = r.provider;
    j["base_url"] = r.base_url;
  }
  if (r.health) {
    auto& h = r.health->health;
    j["breaker"] = to_string(h.breaker.state);
    j["score"] = health_score(h, {});
    j["latency_ms"] = h.latency_ms;
    j["latency_p50_ms"] = quantile_us(h.latencies, 0.5).value_or(0) / 1000.0;
    j["latency_p90_ms"] = quantile_us(h.latencies, 0.9).value_or(0) / 1000.0;
    j["error_rate"] = h.error_rate;
    j["requests"] = h.requests;
    j["failures"] = h.failures;
    j["in_flight"] = h.in_flight;
    j["cost_micro_usd"] = r.health->cost_micro_usd;
  }
  if (!r.listing.empty())
    j["listing"] = r.listing;
  return j;
}

} // namespace

int models(const common_options& opts, const std::string& scenario_path,
           const std::string& secrets_file) {
  std::map<std::string, model_row> rows; // by endpoint:model
  std::map<std::string, endpoint_config> endpoints;
  if (!scenario_path.empty()) {
    auto sc = load_console_scenario(scenario_path);
    if (!sc)
      return report(sc.error());
    endpoints = sc->endpoints;
    for (auto& [name, m] : sc->models) {
      auto add = [&](const route_target& t) {
        auto& e = sc->endpoints.at(t.endpoint);
        rows[t.endpoint + ":" + t.model] = {t.endpoint, t.model, std::string(to_string(e.provider)),
                                            e.base_url, {}, {}};
      };
      for (auto& t : m.route)
        add(t);
      for (auto& [tier, targets] : m.tiers)
        for (auto& t : targets)
          add(t);
    }
  }
  if (auto err = check_db_path(opts.db))
    return report(err);
  std::error_code ec;
  if (std::filesystem::exists(opts.db, ec)) {
    auto store = persistence::health_store::open(opts.db, true);
    // A journal of an older schema has no health yet: nothing to show.
    if (!store && store.error() != persistence::store_errc::needs_migration)
      return report(store.error());
    caf::expected<std::vector<persistence::health_row>> saved{
      std::vector<persistence::health_row>{}};
    if (store)
      saved = store->load();
    if (!saved)
      return report(saved.error());
    for (auto& s : *saved) {
      auto colon = s.key.find(':');
      auto& r = rows[s.key];
      r.endpoint = s.key.substr(0, colon);
      r.model = colon == std::string::npos ? "" : s.key.substr(colon + 1);
      auto h = health_from_json(s.document);
      if (!h) {
        std::fprintf(stderr, "troupe: %s: %s\n", s.key.c_str(), render(h.error()).c_str());
        continue;
      }
      if (h->last_check)
        r.listing = listing_of(*h->last_check, r.model) + " (checked "
                    + format_timestamp(h->last_check->at_us) + ")";
      // As the next request would see it: a cool-down that ended is half open.
      (void) refresh(h->health, std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
      r.health = std::move(*h);
    }
  } else if (scenario_path.empty()) {
    return report(caf::make_error(persistence::store_errc::not_found,
                                  opts.db + ": no journal database here (pass --db PATH)"));
  }
  if (!endpoints.empty()) {
    auto http = net::http_client::start();
    if (!http)
      return report(http.error());
    secret_store secrets;
    if (!secrets_file.empty()) {
      auto loaded = secret_store::load(secrets_file);
      if (!loaded)
        return report(loaded.error());
      secrets = std::move(*loaded);
    }
    for (auto& [name, e] : endpoints) {
      auto key = api_key_of(e, secrets);
      auto check = check_now(**http, e, key ? *key : std::string{});
      for (auto& [k, r] : rows)
        if (r.endpoint == name && e.provider != provider_kind::command)
          r.listing = listing_of(check, r.model);
    }
  }
  if (opts.json) {
    auto arr = nlohmann::ordered_json::array();
    for (auto& [key, r] : rows)
      arr.push_back(row_json(r));
    std::cout << to_json_text(arr) << std::endl;
    return exit_ok;
  }
  if (rows.empty()) {
    std::printf("no endpoints: pass a scenario, or --db of a journal that used some\n");
    return exit_ok;
  }
  std::printf("%-28s %-9s %5s %7s %7s %6s %8s %10s  %s\n", "ENDPOINT:MODEL", "BREAKER",
              "SCORE", "P50 ms", "P90 ms", "ERR%", "REQUESTS", "COST $", "SERVER");
  for (auto& [key, r] : rows) {
    if (!r.health) {
      std::printf("%-28s %-9s %5s %7s %7s %6s %8s %10s  %s\n", key.c_str(), "-", "-", "-", "-",
                  "-", "0", "0", r.listing.c_str());
      continue;
    }
    auto& h = r.health->health;
    std::printf("%-28s %-9s %5.2f %7s %7s %6.1f %8llu %10.6f  %s\n", key.c_str(),
                std::string(to_string(h.breaker.state)).c_str(), health_score(h, {}),
                ms(quantile_us(h.latencies, 0.5)).c_str(),
                ms(quantile_us(h.latencies, 0.9)).c_str(), h.error_rate * 100.0,
                static_cast<unsigned long long>(h.requests),
                static_cast<double>(r.health->cost_micro_usd) / 1e6, r.listing.c_str());
  }
  return exit_ok;
}

} // namespace troupe::cli
