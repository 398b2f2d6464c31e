#include "persistence/hash_chain.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "persistence/store_errc.hpp"

namespace troupe::persistence {

namespace {

// One fetched SHA-256 implementation and one reusable context per thread.
// OpenSSL 3 looks an algorithm up on every call through EVP_sha256(); fetching
// once and re-initializing the same context keeps a link at the cost of the
// compression function itself (TODO(perf) only if the journal bench says so).
struct sha256_context {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;

  sha256_context() = default;
  sha256_context(const sha256_context&) = delete;
  sha256_context& operator=(const sha256_context&) = delete;
  ~sha256_context() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }

  bool ready() {
    if (md == nullptr)
      md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (ctx == nullptr)
      ctx = EVP_MD_CTX_new();
    return md != nullptr && ctx != nullptr;
  }
};

// OpenSSL frees its per-thread state from an atexit handler, while a thread
// CAF has not joined yet (a detached actor's) may still be freeing the same
// state in its own thread-exit cleanup: a double free that ASan caught in
// kill_resume_test at process exit. The first init decides, so this runs at
// load time, before any other OpenSSL call; the process is ending anyway and
// the kernel takes the memory back.
[[maybe_unused]] const bool openssl_without_atexit =
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;

sha256_context& context() {
  thread_local sha256_context c;
  return c;
}

caf::error crypto_error(std::string_view doing) {
  auto code = ERR_get_error();
  char reason[256] = "no reason given";
  if (code != 0)
    ERR_error_string_n(code, reason, sizeof(reason));
  ERR_clear_error();
  return caf::make_error(store_errc::io_error,
                         "libcrypto could not compute SHA-256 for "
                           + std::string(doing) + ": " + reason);
}

struct span {
  const void* data;
  size_t size;
};

caf::expected<event_hash> sha256(span a, span b, std::string_view doing) {
  auto& c = context();
  event_hash out;
  unsigned int n = 0;
  if (!c.ready() || EVP_DigestInit_ex2(c.ctx, c.md, nullptr) != 1
      || EVP_DigestUpdate(c.ctx, a.data, a.size) != 1
      || (b.size > 0 && EVP_DigestUpdate(c.ctx, b.data, b.size) != 1)
      || EVP_DigestFinal_ex(c.ctx, out.data(), &n) != 1
      || n != event_hash_size)
    return crypto_error(doing);
  return out;
}

} // namespace

caf::expected<event_hash> chain_seed(std::string_view run_id) {
  return sha256({run_id.data(), run_id.size()}, {nullptr, 0},
                "the chain seed of a run");
}

caf::expected<event_hash> chain_next(const event_hash& prev, const void* rows,
                                     size_t size) {
  return sha256({prev.data(), prev.size()}, {rows, size}, "a journal batch");
}

void add_chain_row(std::string& rows, uint32_t seq, int64_t ts_us, const void* body,
                   size_t size) {
  // Little-endian by hand: the chain must not depend on the host.
  auto put = [&](uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i)
      rows.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  };
  put(seq, 4);
  put(static_cast<uint64_t>(ts_us), 8);
  put(static_cast<uint32_t>(size), 4);
  rows.append(static_cast<const char*>(body), size);
}

std::string to_hex(const event_hash& h, size_t digits) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * h.size());
  for (auto byte : h) {
    out.push_back(hex[byte >> 4]);
    out.push_back(hex[byte & 0x0f]);
  }
  if (digits > 0 && digits < out.size()) {
    out.resize(digits);
    out += "…";
  }
  return out;
}

} // namespace troupe::persistence
