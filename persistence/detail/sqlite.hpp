#pragma once
// Thin RAII over sqlite3 handles. Result codes become store_errc errors here
// and nowhere else.

#include <cstdint>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include <caf/error.hpp>

#include "persistence/store_errc.hpp"

namespace troupe::persistence::detail {

/// Maps a SQLite result code to our error, naming `path` and the `doing` step.
[[nodiscard]] caf::error sqlite_error(sqlite3* db, int rc,
                                      const std::string& path,
                                      std::string_view doing);

class statement {
public:
  statement() = default;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  statement(statement&& other) noexcept : stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  statement& operator=(statement&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }
  ~statement() { sqlite3_finalize(stmt_); }

  [[nodiscard]] int prepare(sqlite3* db, std::string_view sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }

  sqlite3_stmt* get() const noexcept { return stmt_; }

  // Binding into a prepared statement only fails on a wrong index, which is a
  // bug in our SQL, not bad input.
  void bind(int i, int64_t x) { sqlite3_bind_int64(stmt_, i, x); }
  void bind(int i, std::string_view x) {
    sqlite3_bind_text(stmt_, i, x.data(), static_cast<int>(x.size()),
                      SQLITE_STATIC);
  }
  void bind_blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(stmt_, i, p, static_cast<int>(n), SQLITE_STATIC);
  }

  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text_at(int col) const {
    auto p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string{};
  }
  const void* blob_at(int col) const { return sqlite3_column_blob(stmt_, col); }
  size_t bytes_at(int col) const {
    return static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

} // namespace troupe::persistence::detail
