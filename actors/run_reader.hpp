#pragma once
// The one way a journaled run is read back to be continued or shown: every
// row verified (store::for_each_verified_event: seq, CRC, hash chain, decode)
// and fed to a run_rebuilder, which keeps the latest usable checkpoint and
// the events after it (core/run_rebuild.hpp). Used by the journal actor (for
// resume and crash restarts) and by the console (show, replay
// --from-checkpoint, bench recovery). Blocking: it reads SQLite.

#include <functional>
#include <string>

#include <caf/expected.hpp>

#include "core/run_rebuild.hpp"
#include "persistence/store.hpp"

namespace troupe {

/// The run read back from its latest checkpoint. `each`, when given, sees
/// every event first, in seq order (`troupe show` lists them). Errors: the
/// store's (`corrupted` naming run and seq for a damaged row, `unknown_run`
/// when the journal has no event of the run), or
/// runtime_errc::invalid_arguments when its first event is not run_start.
[[nodiscard]] caf::expected<rebuilt_run>
read_run(persistence::store& db, const std::string& run_id,
         rebuild_scope scope = rebuild_scope::with_transcript,
         const std::function<void(const event&)>& each = {});

} // namespace troupe
