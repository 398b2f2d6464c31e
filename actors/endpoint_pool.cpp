#include "actors/endpoint_pool.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "core/gateway/health_json.hpp"
#include "net/http_client.hpp"
#include "schemas/errors.hpp"

namespace troupe {

caf::expected<std::shared_ptr<endpoint_pool>> endpoint_pool::start(health_config cfg) {
  auto http = net::http_client::start();
  if (!http)
    return std::move(http.error());
  return std::make_shared<endpoint_pool>(std::make_unique<model_transport>(std::move(*http)),
                                         cfg);
}

endpoint_pool::endpoint_pool(std::unique_ptr<model_transport> transport, health_config cfg)
  : transport_(std::move(transport)), cfg_(cfg) {}

endpoint_pool::~endpoint_pool() {
  {
    std::lock_guard<std::mutex> guard(checks_mtx_);
    stopping_ = true;
  }
  checks_cv_.notify_all();
  if (checker_.joinable())
    checker_.join();
  // A check still in flight ends with the transport (its on_done runs then
  // and only touches this pool's check state, which is still here).
  transport_.reset();
}

void endpoint_pool::watch(const endpoint_config& e, const std::string& api_key,
                          std::chrono::milliseconds interval) {
  if (interval.count() <= 0 || e.provider == provider_kind::command)
    return; // a command has no listing (and its check would call back at once)
  {
    std::lock_guard<std::mutex> guard(checks_mtx_);
    if (stopping_ || watched_.count(e.name) != 0)
      return;
    watched_.emplace(e.name, watched{e, api_key, interval, std::chrono::steady_clock::now()});
    if (!checker_.joinable())
      checker_ = std::thread([this] { check_loop(); });
  }
  checks_cv_.notify_all();
}

std::map<std::string, endpoint_check> endpoint_pool::checks() const {
  std::lock_guard<std::mutex> guard(checks_mtx_);
  return checks_;
}

// Sends each watched endpoint's check when it is due; one at a time per
// endpoint. The checks themselves run on the HTTP client's I/O thread.
void endpoint_pool::check_loop() {
  std::unique_lock<std::mutex> guard(checks_mtx_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto wake = now + std::chrono::hours(1);
    for (auto& [name, w] : watched_) {
      if (!w.in_flight && w.next <= now) {
        w.in_flight = true;
        w.next = now + w.interval;
        check_endpoint(transport_->http(), w.endpoint, w.api_key,
                       [this, name = name](endpoint_check c) {
                         std::lock_guard<std::mutex> g(checks_mtx_);
                         checks_[name] = std::move(c);
                         if (auto i = watched_.find(name); i != watched_.end())
                           i->second.in_flight = false;
                       });
      }
      wake = std::min(wake, w.next);
    }
    checks_cv_.wait_until(guard, wake);
  }
}

std::vector<route_candidate>
endpoint_pool::candidates(const std::vector<route_target>& targets,
                          const std::map<std::string, endpoint_config>& endpoints,
                          int64_t now_us) {
  std::vector<route_candidate> out;
  out.reserve(targets.size());
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& t : targets) {
    auto e = endpoints.find(t.endpoint);
    if (e == endpoints.end())
      continue; // the scenario parser guarantees it is there
    auto key = t.endpoint + ":" + t.model;
    auto& cfg = cfg_per_key_.try_emplace(key, cfg_).first->second;
    cfg.breaker.failure_threshold = e->second.breaker_failures;
    cfg.breaker.cool_down_us = static_cast<int64_t>(e->second.breaker_cool_down_ms) * 1000;
    auto& h = health_[key];
    (void) refresh(h, now_us);
    out.push_back(candidate_of(e->second, t.model, h, cfg));
  }
  return out;
}

attempt_start endpoint_pool::begin(const std::string& key, int64_t now_us) {
  std::lock_guard<std::mutex> guard(mtx_);
  return begin_attempt(health_[key], now_us);
}

std::optional<breaker_transition> endpoint_pool::observe(const std::string& key,
                                                         const attempt_outcome& o,
                                                         int64_t now_us) {
  std::optional<breaker_transition> t;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    auto c = cfg_per_key_.find(key);
    t = troupe::observe(health_[key], o, now_us, c != cfg_per_key_.end() ? c->second : cfg_);
  }
  if (t) // a quarantine must survive a crash of this process
    save();
  return t;
}

bool endpoint_pool::admits(const std::string& key, int64_t now_us) {
  std::lock_guard<std::mutex> guard(mtx_);
  return troupe::admits(health_[key], now_us);
}

std::optional<int64_t> endpoint_pool::hedge_delay(const std::string& key,
                                                  const hedge_config& cfg) {
  std::lock_guard<std::mutex> guard(mtx_);
  return hedge_delay_us(health_[key], cfg);
}

std::map<std::string, endpoint_health> endpoint_pool::health() const {
  std::lock_guard<std::mutex> guard(mtx_);
  return health_;
}

void endpoint_pool::persist_to(const std::string& db_path) {
  auto opened = persistence::health_store::open(db_path);
  if (!opened) {
    spdlog::warn("endpoint health is not kept: {}", render(opened.error()));
    return;
  }
  auto rows = opened->load();
  if (!rows) {
    spdlog::warn("endpoint health: {}", render(rows.error()));
  } else {
    std::map<std::string, saved_health> saved;
    for (auto& row : *rows) {
      auto h = health_from_json(row.document);
      if (h)
        saved.emplace(row.key, std::move(*h));
      else
        spdlog::warn("endpoint health of {} ignored (starts healthy): {}", row.key,
                     render(h.error()));
    }
    restore(std::move(saved));
  }
  std::lock_guard<std::mutex> guard(store_mtx_);
  store_ = std::make_unique<persistence::health_store>(std::move(*opened));
}

std::vector<persistence::health_row> endpoint_pool::snapshot() const {
  std::vector<persistence::health_row> rows;
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  auto last_checks = checks();
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& [key, h] : health_) {
    auto cost = spent_.find(key);
    saved_health s{h, cost != spent_.end() ? cost->second : 0, std::nullopt};
    if (auto c = last_checks.find(key.substr(0, key.find(':'))); c != last_checks.end())
      s.last_check = c->second;
    rows.push_back({key, now, health_to_json(s)});
  }
  return rows;
}

void endpoint_pool::save() {
  auto rows = snapshot();
  std::lock_guard<std::mutex> guard(store_mtx_);
  if (!store_)
    return;
  if (auto err = store_->save(rows))
    spdlog::warn("endpoint health not saved: {}", render(err));
}

void endpoint_pool::restore(std::map<std::string, saved_health> saved) {
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& [key, s] : saved) {
    forget_in_flight(s.health);
    health_[key] = s.health;
    spent_[key] = s.cost_micro_usd;
  }
}

void endpoint_pool::spent(const std::string& key, uint64_t micro_usd) {
  std::lock_guard<std::mutex> guard(mtx_);
  spent_[key] += micro_usd;
}

} // namespace troupe
