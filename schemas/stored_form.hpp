#pragma once
// The form an event takes in the journal's `events.body` column (schema
// version 8): Cap'n Proto's packed encoding of the event with its envelope
// cleared. The run's ids live in its runs row and the seq and timestamp in
// the row's columns, so storing them again on every row is write-only data;
// readers put them back (docs/journal-format.md, "Event storage").

#include <cstdint>
#include <string_view>

#include <caf/expected.hpp>

#include "schemas/codec.hpp"

namespace troupe {

/// What a stored body leaves out: the run's ids (as the envelope holds them:
/// `root_run_id` is empty for a top-level run) and the row's seq and time.
struct event_envelope {
  std::string_view run_id;
  std::string_view parent_run_id;
  std::string_view root_run_id;
  uint32_t seq = 0;
  int64_t ts_us = 0;
};

/// The stored body of an encoded event (`encode`'s flat bytes): run_id,
/// parent_run_id and root_run_id unset, seq and ts_us zero, then packed. A
/// root_run_id naming the run itself stays (a top-level run's events may say
/// that or ""; the runs row holds the run itself for both).
/// The cleared texts stay behind as zero words, which packing folds into two
/// bytes: cheaper on the write path than laying the message out again.
/// Fails (schema_errc::malformed_event) on bytes that are not an event.
[[nodiscard]] caf::expected<event_bytes> to_stored(const void* data, size_t size);

[[nodiscard]] inline caf::expected<event_bytes> to_stored(const event_bytes& bytes) {
  return to_stored(bytes.data(), bytes.size());
}

/// The full encoded event (flat, unpacked, as `encode` gives) from a stored
/// body and its envelope. It decodes, and exports as JSON, exactly as the
/// event that was stored; its layout may differ from the bytes first written.
/// A body that does not unpack, or that still carries an envelope field
/// (written behind the store's back), is schema_errc::malformed_event naming
/// `where` ("run r-1 seq 4").
[[nodiscard]] caf::expected<event_bytes>
from_stored(const void* data, size_t size, const event_envelope& env,
            std::string_view where = {});

} // namespace troupe
