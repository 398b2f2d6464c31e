#pragma once
// The shape of an events row at schema version 8 (docs/journal-format.md,
// "Event storage"): what the writer makes of an encoded event, and how a
// reader gets the whole event back from a row and its run.

#include <string>
#include <string_view>

#include "persistence/detail/sqlite.hpp"
#include "persistence/store.hpp"

namespace troupe::persistence::detail {

/// The envelope's root_run_id of a run whose runs row holds `runs_root`:
/// empty for a top-level run, whose row names the run itself.
[[nodiscard]] inline std::string_view envelope_root(std::string_view run_id,
                                                    std::string_view runs_root) {
  return runs_root == run_id ? std::string_view{} : runs_root;
}

/// An event's root_run_id as its run keeps it: naming the run itself is the
/// same as empty (failure completions of builds before 8, tests and imports
/// say that of a top-level run; the stored body keeps the text).
[[nodiscard]] inline std::string_view envelope_root(const event_header& h) {
  return envelope_root(h.run_id, h.root_run_id);
}

/// Fills `row.bytes` from its stored body and envelope; leaves it empty when
/// the body does not unpack (check_row reports why).
void rebuild_bytes(stored_event& row);

/// The columns `read_event_row` reads, from `events e JOIN runs r`.
inline constexpr const char* event_row_columns =
  "r.run_id, e.seq, e.kind, e.ts_us, e.body, e.crc, e.hash, r.parent_run_id, "
  "r.root_run_id";

/// One row selected with event_row_columns, whole event rebuilt.
[[nodiscard]] stored_event read_event_row(const statement& st);

/// An empty hash value: the rows of a batch before its last (NOT NULL column).
inline constexpr char no_link[1] = {0};

} // namespace troupe::persistence::detail
