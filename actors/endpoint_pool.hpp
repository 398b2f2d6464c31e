#pragma once
// What every model gateway of a runtime shares: the transport (one HTTP
// client, the command threads) and the health of each endpoint:model pair
// (core/gateway/endpoint_health.hpp), so that a failing endpoint is seen as
// failing by every route that uses it, and `troupe models` shows one truth.
//
// Thread safety: every member may be called from any thread (gateways are
// actors on CAF's workers); health is guarded by one mutex held only for the
// pure updates, never across I/O.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <thread>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "actors/endpoint_check.hpp"
#include "actors/model_exchange.hpp"
#include "core/gateway/attempt_plan.hpp"
#include "core/gateway/endpoint_health.hpp"
#include "core/gateway/health_json.hpp"
#include "core/gateway/route_choice.hpp"
#include "core/scenario.hpp"
#include "persistence/health_store.hpp"

namespace troupe {

class endpoint_pool {
public:
  /// Starts the transport's HTTP client. Errors as net::http_client::start.
  [[nodiscard]] static caf::expected<std::shared_ptr<endpoint_pool>>
  start(health_config cfg = {});

  explicit endpoint_pool(std::unique_ptr<model_transport> transport, health_config cfg);

  /// Stops the checks (joins their thread).
  ~endpoint_pool();

  model_transport& transport() { return *transport_; }
  const health_config& config() const { return cfg_; }

  /// The candidates of `targets` now, breakers refreshed (a cool-down that
  /// ended shows half_open), in declared order.
  [[nodiscard]] std::vector<route_candidate>
  candidates(const std::vector<route_target>& targets,
             const std::map<std::string, endpoint_config>& endpoints, int64_t now_us);

  /// Books an attempt on `key` ("endpoint:model") about to be sent.
  [[nodiscard]] attempt_start begin(const std::string& key, int64_t now_us);

  /// Folds an ended attempt in; returns the breaker's transition, if any.
  std::optional<breaker_transition> observe(const std::string& key, const attempt_outcome& o,
                                            int64_t now_us);

  [[nodiscard]] bool admits(const std::string& key, int64_t now_us);

  /// Adds a reply's cost to what `key` has cost so far.
  void spent(const std::string& key, uint64_t micro_usd);

  [[nodiscard]] std::optional<int64_t> hedge_delay(const std::string& key,
                                                   const hedge_config& cfg);

  /// A copy of every pair's health, by key.
  [[nodiscard]] std::map<std::string, endpoint_health> health() const;

  /// Health saved by an earlier process (in flight and probes forgotten).
  void restore(std::map<std::string, saved_health> saved);

  /// Keeps the health in the journal at `db_path` (its endpoint_health
  /// table): loads what an earlier process saved, and from now on saves on
  /// every breaker transition and on `save()`. A row that does not parse is
  /// skipped with a warning; a failing save is logged, never fatal.
  void persist_to(const std::string& db_path);

  /// Writes every pair's health now (at shutdown, say).
  void save();

  /// Every pair's health now, as `save` would write it (GET /v1/endpoints).
  [[nodiscard]] std::vector<persistence::health_row> snapshot() const;

  /// Checks `e` every `interval` (its model listing, endpoint_check.hpp)
  /// from now on; the last result is saved with its pairs and shown by
  /// `troupe models`. Checks never change routing. Idempotent per name.
  void watch(const endpoint_config& e, const std::string& api_key,
             std::chrono::milliseconds interval);

  /// The last check of each watched endpoint, by name.
  [[nodiscard]] std::map<std::string, endpoint_check> checks() const;

private:
  std::unique_ptr<model_transport> transport_;
  health_config cfg_;
  mutable std::mutex mtx_;
  std::map<std::string, endpoint_health> health_;
  std::map<std::string, uint64_t> spent_; ///< micro-USD per key
  /// Per pair: the defaults with its endpoint's breaker settings.
  std::map<std::string, health_config> cfg_per_key_;
  std::mutex store_mtx_;
  std::unique_ptr<persistence::health_store> store_;

  struct watched {
    endpoint_config endpoint;
    std::string api_key;
    std::chrono::milliseconds interval;
    std::chrono::steady_clock::time_point next;
    bool in_flight = false;
  };
  void check_loop();
  mutable std::mutex checks_mtx_;
  std::condition_variable checks_cv_;
  bool stopping_ = false;
  std::map<std::string, watched> watched_;
  std::map<std::string, endpoint_check> checks_;
  std::thread checker_;
};

} // namespace troupe
