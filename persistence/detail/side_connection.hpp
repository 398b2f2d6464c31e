#pragma once
// The connection of a store that lives beside the journal in its database
// (job_store, tenant_store): the journal writer creates and migrates the
// file, these only open it. One connection per store; not thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/detail/sqlite.hpp"

namespace troupe::persistence::detail {

class side_connection {
public:
  /// Opens the journal at `path` for `what` (named in errors: "job queue").
  /// The file must exist (not_found) and be a troupe journal (not_a_journal)
  /// at exactly the current schema version (needs_migration, with the
  /// `troupe migrate` hint; newer_schema). The connection commits with
  /// synchronous=FULL (see the .cpp); `read_only` refuses every write and
  /// leaves the file as it was, as the journal's read-only stores do.
  [[nodiscard]] static caf::expected<std::unique_ptr<side_connection>>
  open(const std::string& path, std::string_view what, bool read_only = false);

  side_connection(const side_connection&) = delete;
  side_connection& operator=(const side_connection&) = delete;
  ~side_connection();

  sqlite3* db() const noexcept { return db_; }
  const std::string& path() const noexcept { return path_; }

  /// The SQLite error `rc` as a store error naming the file and `doing`.
  [[nodiscard]] caf::error fail(int rc, std::string_view doing) const;

  /// Prepares `sql`; errors name `doing`.
  [[nodiscard]] caf::error prepare(statement& st, std::string_view sql,
                                   std::string_view doing) const;

  /// Runs `body` between BEGIN IMMEDIATE and COMMIT: the write lock is taken
  /// first, so reads inside `body` see what no other writer can change before
  /// the commit. An error from `body` rolls back and is returned. A failed
  /// COMMIT is sticky: nobody knows whether it reached the disk, so every
  /// later transaction of this connection fails until the store is reopened.
  [[nodiscard]] caf::error transaction(std::string_view doing,
                                       const std::function<caf::error()>& body);

private:
  side_connection() = default;
  std::string path_;
  sqlite3* db_ = nullptr;
  caf::error broken_; ///< the failed COMMIT, once there was one
};

/// Microseconds since the epoch by the system clock: the stores' default
/// timestamp (comparable across processes and restarts).
[[nodiscard]] int64_t wall_clock_us();

/// Steps `st` until it is done, handing each row to `row`. Errors name `doing`.
[[nodiscard]] caf::error
each_row(const side_connection& c, statement& st, std::string_view doing,
         const std::function<caf::error()>& row);

} // namespace troupe::persistence::detail
