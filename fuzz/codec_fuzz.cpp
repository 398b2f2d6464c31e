// The journal row decoder: whatever bytes a damaged or hostile journal holds
// in `events.body`, `decode` and the functions that read a row without
// decoding it (peek_header, stamp, restamp, to_json) return a value or an
// error, never crash. What decodes re-encodes to bytes that decode to the
// same bytes again (encode is a fixed point after one round).

#include <cstddef>
#include <cstdint>

#include "fuzz/check.hpp"
#include "schemas/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  troupe::event_bytes bytes(reinterpret_cast<const char*>(data),
                            reinterpret_cast<const char*>(data) + size);
  auto ev = troupe::decode(bytes, "fuzz");
  auto header = troupe::peek_header(bytes);
  auto json = troupe::to_json(bytes.data(), bytes.size(), "fuzz");
  (void) json;
  auto restamped = troupe::restamp(bytes, 7);
  // restamp copies whatever the message holds (an unknown kind too); what
  // had a readable header keeps it, with the new seq.
  if (restamped && header) {
    auto again = troupe::peek_header(*restamped);
    TROUPE_FUZZ_CHECK(again && again->seq == 7 && again->run_id == header->run_id,
                      "restamp keeps the header and sets seq 7");
  }
  auto copy = bytes;
  auto stamped = troupe::stamp(copy, [](const std::string&) -> caf::expected<uint32_t> {
    return uint32_t{42};
  });
  if (stamped) {
    auto again = troupe::peek_header(copy);
    TROUPE_FUZZ_CHECK(again && again->seq == 42 && again->run_id == stamped->run_id,
                      "stamp writes the seq in place");
  }
  if (ev) {
    TROUPE_FUZZ_CHECK(static_cast<bool>(header), "peek_header reads what decode reads");
    TROUPE_FUZZ_CHECK(header->run_id == ev->run_id && header->seq == ev->seq,
                      "peek_header agrees with decode");
    auto once = troupe::encode(*ev);
    auto back = troupe::decode(once, "fuzz re-encoded");
    TROUPE_FUZZ_CHECK(static_cast<bool>(back), "an encoded event decodes");
    auto twice = troupe::encode(*back);
    TROUPE_FUZZ_CHECK(once == twice, "encode(decode(encode(e))) == encode(e)");
  }
  return 0;
}
