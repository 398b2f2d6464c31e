#pragma once
// The API key token format (docs/journal-format.md, "API keys"):
//
//   token  = "trp_" key_id "_" secret
//   key_id = "k_" 16 lowercase hex digits        (random, public, stored)
//   secret = base64url of 32 random bytes, 43 characters, no padding
//
// Only SHA-256 of the 32 secret bytes is stored. Parsing is strict: one
// spelling per key (canonical base64url), so no other string authenticates.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace troupe::persistence::detail {

inline constexpr size_t api_secret_size = 32;
using api_secret = std::array<uint8_t, api_secret_size>;
using secret_hash = std::array<uint8_t, 32>;

struct parsed_token {
  std::string key_id;
  api_secret secret{};
};

/// A fresh key id and secret from OpenSSL's RAND_bytes (io_error when the
/// generator fails: never a weaker fallback).
[[nodiscard]] caf::expected<parsed_token> random_token();

/// The token text of `t`.
[[nodiscard]] std::string format_token(const parsed_token& t);

/// `t` when `token` is exactly a token of format_token's shape, else none.
[[nodiscard]] std::optional<parsed_token> parse_token(std::string_view token);

/// SHA-256 of the secret (io_error when libcrypto fails).
[[nodiscard]] caf::expected<secret_hash> hash_secret(const api_secret& secret);

/// Whether `key_id` is "k_" and 16 lowercase hex digits.
[[nodiscard]] bool valid_key_id(std::string_view key_id);

} // namespace troupe::persistence::detail
