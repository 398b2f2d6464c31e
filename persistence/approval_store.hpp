#pragma once
// Pending human approvals, durable in the journal database so they survive a
// restart and can be decided from another process (`troupe approve`). Each
// connection is its own; SQLite serializes writers across processes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/store_errc.hpp"

struct sqlite3;

namespace troupe::persistence {

enum class approval_status : uint8_t { pending, approved, denied, timed_out };

[[nodiscard]] std::string_view to_string(approval_status s);

struct approval_row {
  std::string run_id;
  std::string call_id;
  std::string tool;
  std::string args_json;
  std::string rule;
  int64_t requested_us = 0;
  int64_t deadline_us = 0;
  approval_status status = approval_status::pending;
  std::string decided_by;
  std::string reason;
  int64_t decided_us = 0;
};

class approval_store {
public:
  /// Opens the approvals of the journal at `path` (which must exist and be at
  /// the current schema version; the journal writer creates and migrates it).
  [[nodiscard]] static caf::expected<approval_store> open(const std::string& path);

  approval_store(approval_store&&) noexcept;
  approval_store& operator=(approval_store&&) noexcept;
  ~approval_store();

  /// Records a pending request; if one exists for (run, call) it is kept as it
  /// is (a restarted run asks again) and returned.
  [[nodiscard]] caf::expected<approval_row> request(const approval_row& row);

  /// Decides a pending request. Returns unknown_run when there is no such
  /// request, and an io_error naming the status when it was already decided.
  [[nodiscard]] caf::error decide(const std::string& run_id, const std::string& call_id,
                                  bool approved, const std::string& by,
                                  const std::string& reason, int64_t now_us);

  /// Times out every pending request whose deadline is before `now_us`
  /// (fail closed) and returns them.
  [[nodiscard]] caf::expected<std::vector<approval_row>> expire(int64_t now_us);

  [[nodiscard]] caf::expected<std::optional<approval_row>>
  find(const std::string& run_id, const std::string& call_id);

  /// Pending requests, oldest first.
  [[nodiscard]] caf::expected<std::vector<approval_row>> pending();

private:
  struct impl;
  explicit approval_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
