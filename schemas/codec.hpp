#pragma once
// Conversion between `troupe::event` and its Cap'n Proto bytes (unpacked,
// flat framing). Cap'n Proto exceptions stop here: every function returns an
// error value naming what could not be decoded.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/expected.hpp>

#include "schemas/event.hpp"

namespace troupe {

enum class schema_errc : uint8_t {
  malformed_event = 1, ///< bytes do not decode as a journal Event
  unknown_kind,        ///< a union member this build does not know
};

/// Bytes of one encoded event. `std::vector<char>` is a CAF built-in type,
/// so it travels between nodes without registration.
using event_bytes = std::vector<char>;

/// Encodes `ev` as one flat Cap'n Proto message.
[[nodiscard]] event_bytes encode(const event& ev);

/// Decodes bytes produced by `encode` (or read back from the journal).
/// `where` names the source in error messages, e.g. "run r-1 seq 4".
[[nodiscard]] caf::expected<event> decode(const void* data, size_t size,
                                          std::string_view where = {});

[[nodiscard]] inline caf::expected<event>
decode(const event_bytes& bytes, std::string_view where = {}) {
  return decode(bytes.data(), bytes.size(), where);
}

/// The envelope of an encoded event, read without decoding its body.
struct event_header {
  std::string run_id;
  std::string parent_run_id;
  std::string root_run_id;
  uint32_t seq = 0;
  int64_t ts_us = 0;
  event_kind kind = event_kind::error;
};

[[nodiscard]] caf::expected<event_header> peek_header(const event_bytes& bytes);

/// Validates `bytes` as an event, asks `next_seq(run_id)` for its seq and
/// writes that seq into the bytes in place: how the journal stamps drafts
/// without a copy. Returns the stamped header.
template <class NextSeq>
[[nodiscard]] caf::expected<event_header> stamp(event_bytes& bytes,
                                                NextSeq&& next_seq);

/// Returns a copy of `bytes` with the envelope's seq set to `seq`.
[[nodiscard]] caf::expected<event_bytes> restamp(const event_bytes& bytes,
                                                 uint32_t seq);

/// Renders encoded bytes as one JSON object through Cap'n Proto's JSON codec
/// (snake_case names; `kind` names the body; 64-bit integers are strings).
/// Always valid UTF-8: text bytes that are not (only in a damaged or
/// hand-made journal) come out as U+FFFD.
[[nodiscard]] caf::expected<std::string> to_json(const void* data, size_t size,
                                                 std::string_view where = {});

/// CRC-32 (zlib) of the bytes; stored with every journal row.
[[nodiscard]] uint32_t checksum(const void* data, size_t size);

namespace detail {

/// Where the envelope's seq lives inside `bytes` (validated); the header is
/// read in the same pass.
[[nodiscard]] caf::expected<char*> locate_seq(event_bytes& bytes,
                                              event_header& header);

} // namespace detail

template <class NextSeq>
caf::expected<event_header> stamp(event_bytes& bytes, NextSeq&& next_seq) {
  event_header header;
  auto where = detail::locate_seq(bytes, header);
  if (!where)
    return std::move(where.error());
  caf::expected<uint32_t> seq = next_seq(header.run_id);
  if (!seq)
    return std::move(seq.error());
  header.seq = *seq;
  // Cap'n Proto stores integers little-endian, as does every target we build.
  std::memcpy(*where, &header.seq, sizeof(uint32_t));
  return header;
}

} // namespace troupe

CAF_ERROR_CODE_ENUM(troupe::schema_errc, "schema")
