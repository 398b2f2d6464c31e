#pragma once
// The way back from `troupe export`: one JSON line (Cap'n Proto's JSON codec,
// docs/journal-format.md "Exports") to the event bytes the journal stores.
// Cap'n Proto exceptions stop here, like in codec.hpp.

#include <string_view>

#include <caf/expected.hpp>

#include "schemas/codec.hpp"

namespace troupe {

/// Decodes one exported line into event bytes laid out exactly as `encode`
/// lays them out, so an exported event imports byte for byte (and so gets
/// the same hash-chain link) as long as this build's `encode` wrote it.
///
/// Stricter than the codec, which would fill in or drop what it does not
/// find: the line must be one JSON object with `run_id` (non-empty), `seq`,
/// `kind` naming a kind this build knows and the member of that name; a
/// field this build does not know (anywhere in the object) or a repeated
/// field is an error, never silently dropped.
///
/// Errors name `where` (e.g. "events.jsonl:12"): schema_errc::malformed_event
/// for bad JSON, a missing or unknown field, a value of the wrong type or out
/// of range; schema_errc::unknown_kind for a kind this build does not know.
[[nodiscard]] caf::expected<event_bytes> from_json(std::string_view line,
                                                   std::string_view where);

} // namespace troupe
