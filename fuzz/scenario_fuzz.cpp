// The scenario parser on hostile text: a scenario or an error, never a
// crash, a hang or unbounded memory. A relative `policy = "file"` resolves
// against a directory that does not exist, so the target reads no files of
// the checkout.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> known_tools{
    "echo", "read_file", "write_file", "append_file", "list_dir", "shell"};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scn = troupe::parse_scenario(text, "fuzz.toml", "/nonexistent-fuzz-dir",
                                    known_tools);
  (void) scn;
  return 0;
}
