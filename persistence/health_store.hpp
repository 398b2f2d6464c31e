#pragma once
// The `endpoint_health` table: what the model gateway knows about each
// endpoint:model pair, one opaque document per pair (the gateway's JSON of
// core/gateway/endpoint_health.hpp), kept across restarts and read by
// `troupe models`. Advisory: losing it loses no run data. Each store is its
// own connection; SQLite serializes writers across processes.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/store_errc.hpp"

namespace troupe::persistence {

struct health_row {
  std::string key; ///< endpoint:model
  int64_t updated_us = 0;
  std::string document;
};

class health_store {
public:
  /// Opens the table in the journal at `path` (it must exist at the current
  /// schema version: the journal writer creates and migrates it). A
  /// read-only store (for the console's read commands) cannot `save`.
  [[nodiscard]] static caf::expected<health_store> open(const std::string& path,
                                                        bool read_only = false);

  health_store(health_store&&) noexcept;
  health_store& operator=(health_store&&) noexcept;
  ~health_store();

  /// Writes `rows` (replacing the rows of their keys) in one transaction.
  [[nodiscard]] caf::error save(const std::vector<health_row>& rows);

  /// Every row, by key.
  [[nodiscard]] caf::expected<std::vector<health_row>> load();

private:
  struct impl;
  explicit health_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
