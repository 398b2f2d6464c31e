#pragma once
// The journal's hash chain: every events row carries
//
//   hash(seq 1) = SHA-256(SHA-256(run_id) || body(seq 1))
//   hash(seq n) = SHA-256(hash(seq n-1)   || body(seq n))
//
// where `||` is byte concatenation, run_id is the run's id in UTF-8 without a
// terminator and body is the row's Cap'n Proto bytes as stored. Editing,
// inserting, removing or reordering a row breaks the link of the row after the
// change (docs/journal-format.md, "Integrity"). SHA-256 comes from OpenSSL's
// libcrypto; nothing of OpenSSL leaks through this header.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace troupe::persistence {

inline constexpr size_t event_hash_size = 32;

/// One link of the chain: a SHA-256 digest.
using event_hash = std::array<uint8_t, event_hash_size>;

/// The link a run's first event chains from: SHA-256 of the run id.
/// Fails (store_errc::io_error) only when libcrypto cannot compute SHA-256.
/// Thread-safe: each thread hashes with a context of its own.
[[nodiscard]] caf::expected<event_hash> chain_seed(std::string_view run_id);

/// The hash of a row: SHA-256(`prev` || the `size` bytes at `body`).
[[nodiscard]] caf::expected<event_hash>
chain_next(const event_hash& prev, const void* body, size_t size);

/// Lowercase hex of `h`; `digits` > 0 keeps only that many leading digits and
/// marks the cut with "…" (for messages).
[[nodiscard]] std::string to_hex(const event_hash& h, size_t digits = 0);

} // namespace troupe::persistence
