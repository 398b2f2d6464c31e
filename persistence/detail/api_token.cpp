#include "persistence/detail/api_token.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "persistence/store_errc.hpp"

namespace troupe::persistence::detail {

namespace {

constexpr std::string_view token_prefix = "trp_";
constexpr size_t key_id_size = 18;  // "k_" + 16 hex digits
constexpr size_t secret_chars = 43; // ceil(32 * 8 / 6), no padding
constexpr size_t token_size = token_prefix.size() + key_id_size + 1 + secret_chars;
constexpr char b64url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

caf::error crypto_error(std::string_view doing) {
  auto code = ERR_get_error();
  char reason[256] = "no reason given";
  if (code != 0)
    ERR_error_string_n(code, reason, sizeof(reason));
  ERR_clear_error();
  return caf::make_error(store_errc::io_error,
                         "libcrypto failed " + std::string(doing) + ": " + reason);
}

std::string hex(const uint8_t* p, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xf]);
  }
  return out;
}

} // namespace

bool valid_key_id(std::string_view key_id) {
  if (key_id.size() != key_id_size || key_id.substr(0, 2) != "k_")
    return false;
  for (auto c : key_id.substr(2))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

caf::expected<parsed_token> random_token() {
  uint8_t id[8];
  parsed_token t;
  if (RAND_bytes(id, sizeof(id)) != 1
      || RAND_bytes(t.secret.data(), static_cast<int>(t.secret.size())) != 1)
    return crypto_error("to generate an API key (RAND_bytes)");
  t.key_id = "k_" + hex(id, sizeof(id));
  return t;
}

std::string format_token(const parsed_token& t) {
  std::string out(token_prefix);
  out += t.key_id;
  out += '_';
  uint32_t bits = 0;
  int held = 0;
  for (auto byte : t.secret) {
    bits = (bits << 8) | byte;
    held += 8;
    while (held >= 6) {
      held -= 6;
      out.push_back(b64url[(bits >> held) & 0x3f]);
    }
  }
  if (held > 0)
    out.push_back(b64url[(bits << (6 - held)) & 0x3f]);
  return out;
}

std::optional<parsed_token> parse_token(std::string_view token) {
  if (token.size() != token_size || token.substr(0, token_prefix.size()) != token_prefix)
    return std::nullopt;
  parsed_token t;
  t.key_id = std::string(token.substr(token_prefix.size(), key_id_size));
  if (!valid_key_id(t.key_id) || token[token_prefix.size() + key_id_size] != '_')
    return std::nullopt;
  auto text = token.substr(token_size - secret_chars);
  uint32_t bits = 0;
  int held = 0;
  size_t n = 0;
  for (auto c : text) {
    auto v = b64url_value(c);
    if (v < 0)
      return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      t.secret[n++] = static_cast<uint8_t>((bits >> held) & 0xff);
    }
  }
  // 43 characters carry 258 bits: the 2 left over must be zero, else a
  // second spelling of the same secret would be accepted.
  if (n != api_secret_size || (bits & ((1u << held) - 1)) != 0)
    return std::nullopt;
  return t;
}

caf::expected<secret_hash> hash_secret(const api_secret& secret) {
  secret_hash out;
  unsigned int n = 0;
  if (EVP_Digest(secret.data(), secret.size(), out.data(), &n, EVP_sha256(), nullptr) != 1
      || n != out.size())
    return crypto_error("to hash an API key secret (SHA-256)");
  return out;
}

} // namespace troupe::persistence::detail
