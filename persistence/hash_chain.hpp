#pragma once
// The journal's hash chain (schema version 8): one link per commit batch per
// run, stored on the batch's last row of that run (its other rows hold an
// empty hash):
//
//   seed(run)  = SHA-256(run_id)
//   link(k)    = SHA-256(link(k-1) || row(a) || ... || row(b))
//   row(n)     = le32(seq n) || le64(ts_us n) || le32(size of body n) || body n
//
// where batch k holds seqs a..b of the run, link(0) is the seed, `||` is byte
// concatenation, run_id is the run's id in UTF-8 without a terminator and
// body is the row's stored bytes. The seq and time are chained because the
// stored body no longer holds them. Editing, inserting, removing or
// reordering a row breaks the link of its batch (docs/journal-format.md,
// "Integrity"). SHA-256 comes from OpenSSL's libcrypto; nothing of OpenSSL
// leaks through this header.

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

/// A link: SHA-256(`prev` || the `size` bytes at `rows`), `rows` being a
/// batch's rows framed by add_chain_row.
[[nodiscard]] caf::expected<event_hash>
chain_next(const event_hash& prev, const void* rows, size_t size);

/// Appends one row, framed as the chain hashes it, to a batch's `rows`.
void add_chain_row(std::string& rows, uint32_t seq, int64_t ts_us, const void* body,
                   size_t size);

/// Lowercase hex of `h`; `digits` > 0 keeps only that many leading digits and
/// marks the cut with "…" (for messages).
[[nodiscard]] std::string to_hex(const event_hash& h, size_t digits = 0);

} // namespace troupe::persistence
