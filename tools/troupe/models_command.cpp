// `troupe models [SCENARIO] --db PATH`: the endpoints and models the gateway
// knows, with their health (score, breaker, latency p50/p90, error rate,
// requests, cost) from the journal database, and, given a scenario, what each
// endpoint itself lists right now (discovery: listed, warm or cold for Ollama).

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/builtin_tools.hpp"
#include "core/gateway/health_json.hpp"
#include "core/providers/discovery.hpp"
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

// One GET, waited for: discovery is a handful of requests, not a hot path.
caf::expected<std::string> get(net::http_client& http, const std::string& url,
                               const std::string& api_key, provider_kind provider) {
  net::http_request req;
  req.url = url;
  req.pool = "discovery";
  req.timeouts = {3000, 5000, 5000, 10000};
  if (!api_key.empty())
    req.headers.push_back({"Authorization", "Bearer " + api_key});
  auto body = std::make_shared<std::string>();
  std::promise<net::http_outcome> done;
  auto result = done.get_future();
  net::http_callbacks cb;
  cb.on_data = [body](std::string_view chunk) {
    body->append(chunk);
    return net::http_action::proceed;
  };
  cb.on_done = [&done](net::http_outcome o) { done.set_value(std::move(o)); };
  http.submit(std::move(req), std::move(cb));
  auto outcome = result.get();
  if (!outcome.ok())
    return caf::make_error(runtime_errc::io_failed, url + ": " + outcome.message);
  if (outcome.status != 200)
    return caf::make_error(runtime_errc::io_failed,
                           url + ": HTTP " + std::to_string(outcome.status));
  return std::move(*body);
}

// What the endpoint lists: model -> "listed" (or for Ollama "warm"/"cold").
caf::expected<std::map<std::string, std::string>> discover(net::http_client& http,
                                                          const endpoint_config& e,
                                                          const std::string& api_key) {
  std::map<std::string, std::string> out;
  auto path = providers::models_path(e.provider);
  if (path.empty())
    return out;
  auto body = get(http, e.base_url + path, api_key, e.provider);
  if (!body)
    return std::move(body.error());
  auto names = providers::parse_model_list(e.provider, *body);
  if (!names)
    return std::move(names.error());
  for (auto& n : *names)
    out[n] = e.provider == provider_kind::ollama ? "cold" : "listed";
  if (e.provider == provider_kind::ollama) {
    auto ps = get(http, e.base_url + "/api/ps", api_key, e.provider);
    if (ps)
      if (auto loaded = providers::parse_model_list(e.provider, *ps))
        for (auto& n : *loaded)
          out[n] = "warm";
  }
  return out;
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
    tool_registry builtins;
    if (auto err = register_builtin_tools(builtins))
      return report(err);
    auto known = builtins.names();
    known.push_back("shell");
    auto sc = load_scenario(scenario_path, known);
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
  if (auto err = check_db_path(opts.db); !err) {
    auto store = persistence::health_store::open(opts.db);
    if (!store)
      return report(store.error());
    auto saved = store->load();
    if (!saved)
      return report(saved.error());
    for (auto& s : *saved) {
      auto colon = s.key.find(':');
      auto& r = rows[s.key];
      r.endpoint = s.key.substr(0, colon);
      r.model = colon == std::string::npos ? "" : s.key.substr(colon + 1);
      if (auto h = health_from_json(s.document))
        r.health = std::move(*h);
      else
        std::fprintf(stderr, "troupe: %s: %s\n", s.key.c_str(), render(h.error()).c_str());
    }
  } else if (scenario_path.empty()) {
    return report(err);
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
      auto listed = discover(**http, e, key ? *key : std::string{});
      for (auto& [k, r] : rows) {
        if (r.endpoint != name || e.provider == provider_kind::anthropic
            || e.provider == provider_kind::command)
          continue;
        if (!listed)
          r.listing = "unreachable: " + render(listed.error());
        else if (auto i = listed->find(r.model); i != listed->end())
          r.listing = i->second;
        else
          r.listing = "missing";
      }
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
