#include "core/gateway/health_json.hpp"

#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

json window_json(const latency_window& w) {
  // Oldest first, so that loading pushes them back in order.
  json out = json::array();
  for (uint32_t i = 0; i < w.size; ++i) {
    auto at = (w.next + latency_window::capacity - w.size + i) % latency_window::capacity;
    out.push_back(w.samples_us[at]);
  }
  return out;
}

latency_window window_of(const json& j) {
  latency_window w;
  for (auto& x : j)
    push(w, x.get<uint64_t>());
  return w;
}

} // namespace

std::string health_to_json(const saved_health& s) {
  auto& h = s.health;
  json j{{"cost_micro_usd", s.cost_micro_usd},{"latency_ms", h.latency_ms},
         {"first_token_ms", h.first_token_ms},
         {"error_rate", h.error_rate},
         {"consecutive_failures", h.consecutive_failures},
         {"requests", h.requests},
         {"successes", h.successes},
         {"failures", h.failures},
         {"last_success_us", h.last_success_us},
         {"last_failure_us", h.last_failure_us},
         {"latencies_us", window_json(h.latencies)},
         {"first_tokens_us", window_json(h.first_tokens)},
         {"breaker",
          {{"state", to_string(h.breaker.state)},
           {"open_until_us", h.breaker.open_until_us},
           {"opens", h.breaker.opens},
           {"samples", h.breaker.samples}}}};
  if (auto& c = s.last_check)
    j["last_check"] = {{"at_us", c->at_us}, {"ok", c->ok}, {"error", c->error},
                       {"latency_us", c->latency_us}, {"models", c->models}};
  return j.dump();
}

caf::expected<saved_health> health_from_json(const std::string& doc) {
  saved_health s;
  auto& h = s.health;
  try {
    auto j = json::parse(doc);
    s.cost_micro_usd = j.value("cost_micro_usd", uint64_t{0});
    h.latency_ms = j.at("latency_ms").get<double>();
    h.first_token_ms = j.at("first_token_ms").get<double>();
    h.error_rate = j.at("error_rate").get<double>();
    h.consecutive_failures = j.at("consecutive_failures").get<uint32_t>();
    h.requests = j.at("requests").get<uint64_t>();
    h.successes = j.at("successes").get<uint64_t>();
    h.failures = j.at("failures").get<uint64_t>();
    h.last_success_us = j.at("last_success_us").get<int64_t>();
    h.last_failure_us = j.at("last_failure_us").get<int64_t>();
    h.latencies = window_of(j.at("latencies_us"));
    h.first_tokens = window_of(j.at("first_tokens_us"));
    auto& b = j.at("breaker");
    if (!from_string(b.at("state").get<std::string>(), h.breaker.state))
      return caf::make_error(runtime_errc::invalid_arguments,
                             "endpoint health: unknown breaker state "
                               + b.at("state").dump());
    h.breaker.open_until_us = b.at("open_until_us").get<int64_t>();
    h.breaker.opens = b.at("opens").get<uint32_t>();
    h.breaker.samples = b.at("samples").get<uint32_t>();
    if (auto c = j.find("last_check"); c != j.end()) {
      endpoint_check check;
      check.at_us = c->at("at_us").get<int64_t>();
      check.ok = c->at("ok").get<bool>();
      check.error = c->at("error").get<std::string>();
      check.latency_us = c->at("latency_us").get<uint64_t>();
      check.models = c->at("models").get<std::map<std::string, std::string>>();
      s.last_check = std::move(check);
    }
  } catch (const json::exception& e) {
    return caf::make_error(runtime_errc::invalid_arguments,
                           std::string{"endpoint health: "} + e.what());
  }
  if (!(h.error_rate >= 0 && h.error_rate <= 1) || !(h.latency_ms >= 0))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "endpoint health: error_rate or latency_ms out of range");
  forget_in_flight(h);
  return s;
}

} // namespace troupe
