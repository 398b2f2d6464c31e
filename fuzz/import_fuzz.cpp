// The import line parser (`troupe import`): any line returns event bytes
// or an error, never crashes. A line it accepts is an event the codec
// decodes, and exporting those bytes and importing the export gives the
// same bytes (export and import are inverse, byte for byte, as the hash
// chain needs).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/check.hpp"
#include "schemas/codec.hpp"
#include "schemas/json_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto bytes = troupe::from_json(line, "fuzz.jsonl:1");
  if (!bytes)
    return 0;
  auto ev = troupe::decode(*bytes, "fuzz imported");
  TROUPE_FUZZ_CHECK(static_cast<bool>(ev), "an imported line decodes");
  auto json = troupe::to_json(bytes->data(), bytes->size(), "fuzz imported");
  TROUPE_FUZZ_CHECK(static_cast<bool>(json), "an imported event exports");
  TROUPE_FUZZ_CHECK(troupe::fuzz::is_utf8(*json), "an export is UTF-8");
  auto again = troupe::from_json(*json, "fuzz re-exported");
  TROUPE_FUZZ_CHECK(static_cast<bool>(again), "an exported event imports");
  // Known: import accepts raw bytes that are not UTF-8 (lone surrogate
  // escapes are refused since schemas/json_unescape.cpp), which export
  // writes as U+FFFD, so such a line does not come back byte for
  // byte. Until import refuses it, an export holding U+FFFD is exempt.
  // Drop this once import refuses such text.
  if (*again != *bytes && json->find("\xEF\xBF\xBD") != std::string::npos) {
    static bool reported = false;
    if (!reported)
      std::fprintf(stderr, "fuzz_import: known: text that is not UTF-8 does not "
                           "round-trip (issue 14 item 6); not failing\n");
    reported = true;
    return 0;
  }
  TROUPE_FUZZ_CHECK(*again == *bytes, "export then import gives the same bytes");
  return 0;
}
