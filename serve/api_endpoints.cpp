// GET /v1/endpoints: the model endpoints the gateway knows, with their
// health, breaker and last check, as `troupe models` shows them. Global (no
// tenant's data: an endpoint is the server's, shared by every tenant).
//
// Live from this process's gateway (runtime::gateway_health), over what the
// journal's endpoint_health table kept (persistence/health_store.hpp) for
// pairs this process has not used yet: an earlier process's health, which
// is also what a restarted gateway starts from.

#include <chrono>

#include "core/gateway/health_json.hpp"
#include "core/jobs/utc_time.hpp"
#include "persistence/health_store.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/detail/wall_clock.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve::detail {

namespace {

nlohmann::json ms_or_null(std::optional<uint64_t> us) {
  return us ? nlohmann::json(static_cast<double>(*us) / 1000.0) : nlohmann::json();
}

nlohmann::json time_or_null(int64_t us) {
  return us == 0 ? nlohmann::json() : nlohmann::json(jobs::rfc3339_utc(us));
}

nlohmann::json endpoint_json(const std::string& key, saved_health s, int64_t now_us) {
  auto colon = key.find(':');
  auto& h = s.health;
  // As the next request would see it: a cool-down that ended is half open.
  (void) refresh(h, now_us);
  nlohmann::json j{{"endpoint", key.substr(0, colon)},
                   {"model", colon == std::string::npos ? "" : key.substr(colon + 1)},
                   {"breaker", to_string(h.breaker.state)},
                   {"score", health_score(h, {})},
                   {"latency_ms", h.latency_ms},
                   {"latency_p50_ms", ms_or_null(quantile_us(h.latencies, 0.5))},
                   {"latency_p90_ms", ms_or_null(quantile_us(h.latencies, 0.9))},
                   {"first_token_ms", h.first_token_ms},
                   {"error_rate", h.error_rate},
                   {"requests", h.requests},
                   {"failures", h.failures},
                   {"consecutive_failures", h.consecutive_failures},
                   {"cost_micro_usd", s.cost_micro_usd},
                   {"last_success", time_or_null(h.last_success_us)},
                   {"last_failure", time_or_null(h.last_failure_us)},
                   {"last_check", nullptr}};
  if (auto& chk = s.last_check)
    j["last_check"] = {{"at", time_or_null(chk->at_us)},
                       {"ok", chk->ok},
                       {"error", chk->error},
                       {"latency_ms", static_cast<double>(chk->latency_us) / 1000.0}};
  return j;
}

// Volumes are the whole service's (every tenant's requests and spend), and a
// check's error names the endpoint's URL: the operator's business, not a
// tenant's. Health (breaker, score, latency, error rate) stays: it is what
// a tenant needs to read its own runs' failures.
void hide_service_volumes(nlohmann::json& j) {
  for (auto* field : {"requests", "failures", "consecutive_failures", "cost_micro_usd"})
    j.erase(field);
  if (j["last_check"].is_object())
    j["last_check"].erase("error");
}

} // namespace

void list_endpoints(api::impl& a, call& c) {
  auto store = persistence::health_store::open(a.d.db_path, true);
  if (!store)
    return c.res.reply(internal_error(store.error()));
  auto rows = store->load();
  if (!rows)
    return c.res.reply(internal_error(rows.error()));
  std::map<std::string, std::pair<int64_t, std::string>> docs;
  for (auto& row : *rows)
    docs[row.key] = {row.updated_us, std::move(row.document)};
  for (auto& live : a.d.rt.gateway_health())
    docs[live.key] = {live.taken_us, std::move(live.document)};
  auto now = now_us();
  auto items = nlohmann::json::array();
  for (auto& [key, doc] : docs) {
    auto h = health_from_json(doc.second);
    if (!h)
      continue; // the gateway itself starts such a pair afresh (health_json.hpp)
    auto j = endpoint_json(key, std::move(*h), now);
    j["updated"] = time_or_null(doc.first);
    if (c.who.key_role < jobs::role::operator_)
      hide_service_volumes(j);
    items.push_back(std::move(j));
  }
  c.res.reply(json_reply(200, {{"items", std::move(items)}}));
}

} // namespace troupe::serve::detail
