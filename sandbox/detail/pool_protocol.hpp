#pragma once
// The wire protocol between sandbox_pool and troupe-sandbox-worker; used by
// the pool (sandbox/sandbox_pool.cpp) and the worker
// (tools/sandbox_worker/main.cpp).

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "sandbox/sandbox_process.hpp"
#include "core/sandbox_spec.hpp"

namespace troupe {

// -- wire protocol between the pool and troupe-sandbox-worker -----------------
//
// Each message is a frame: a 4-byte length in host byte order (both ends run
// on one host) and that many bytes of CBOR written and read by
// nlohmann::json. CBOR, not JSON text, because stdin and outputs are
// arbitrary bytes (byte strings) that JSON text cannot carry as they are.
//
//   worker -> pool, once at start: {"ready": true, "uid": N}
//                                  or an error reply
//   pool -> worker, per call:      a request
//   worker -> pool, per call:      {"ok": true, "result": {...}}
//                                  or {"ok": false, "code": N, "message": "..."}
// The pool closing its end tells the worker to exit.

namespace detail {

inline constexpr uint32_t max_frame_bytes = 256u << 20;

[[nodiscard]] std::string encode_request(const sandbox_request& req);
/// `sandbox_errc::protocol_error` when the bytes are not a request.
[[nodiscard]] caf::expected<sandbox_request> decode_request(std::string_view bytes);

[[nodiscard]] std::string encode_reply(const caf::expected<sandbox_result>& reply);
/// The worker's result, the worker's error (its code and context kept), or
/// `protocol_error` when the bytes are not a reply.
[[nodiscard]] caf::expected<sandbox_result> decode_reply(std::string_view bytes);

[[nodiscard]] std::string encode_ready(uint32_t uid);
/// The uid the worker runs commands as, or the error it reported.
[[nodiscard]] caf::expected<uint32_t> decode_ready(std::string_view bytes);

/// Writes one frame; never raises SIGPIPE. Fails with `worker_crashed` when
/// the peer is gone.
[[nodiscard]] caf::error write_frame(int fd, std::string_view payload);
/// Reads one frame, waiting at most `timeout_ms` (0: no limit). EOF, a
/// timeout or an oversized length fail (`worker_crashed`, `protocol_error`).
[[nodiscard]] caf::expected<std::string> read_frame(int fd, uint64_t timeout_ms);

} // namespace detail

} // namespace troupe
