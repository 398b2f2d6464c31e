#pragma once

#include <cstdint>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace troupe::persistence {

/// Errors of the SQLite journal store. Every context string names the file.
enum class store_errc : uint8_t {
  not_found = 1,   ///< no database at the path (read-only open)
  not_a_journal,   ///< a file that is not a SQLite database or not troupe's
  newer_schema,    ///< written by a newer troupe; refused, never touched
  needs_migration, ///< an older schema opened read-only
  corrupted,       ///< SQLite reports corruption or a row fails its checks
  io_error,        ///< any other SQLite (disk full, permissions, ...) or
                   ///< libcrypto failure
  unknown_run,     ///< no run with that id
  sequence_gap,    ///< an append would break per-run seq contiguity
  import_conflict, ///< an imported event differs from the one stored at its seq
  run_owned,       ///< another live process drives the run (its lease holds)
  run_finished,    ///< the run already ended; nothing to resume
  invalid_argument, ///< a value the store refuses: a tenant name, a cursor,
                    ///< a limit, a job without an id
  unknown_id,       ///< no job, tenant or API key with that id
  conflict,         ///< the name is taken, or the row is not in the state
                    ///< the change needs
  envelope_mismatch, ///< an event's parent or root run differs from its run's
};

} // namespace troupe::persistence

CAF_ERROR_CODE_ENUM(troupe::persistence::store_errc, "store")
