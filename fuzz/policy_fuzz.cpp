// The policy parser on hostile text: a policy or an error, never a crash.
// A policy it accepts decides a few fixed calls (every call gets a verdict).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/check.hpp"
#include "core/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<troupe::policy_warning> warnings;
  auto p = troupe::parse_policy(text, "fuzz-policy.toml", &warnings);
  if (!p)
    return 0;
  TROUPE_FUZZ_CHECK(!p->version.empty(), "a parsed policy has a version");
  static const troupe::call_context calls[] = {
    {"shell", {{"argv", {"rm", "-rf", "/"}}}, "lead", "worker", "acme"},
    {"write_file", {{"path", "src/../notes.txt"}, {"content", "x"}}, "lead", "", ""},
    {"http_get", {{"url", "https://Example.COM/a"}}, "", "", ""},
    {"read_file", {{"paths", {"a/b", "c"}}, {"cwd", "."}}, "helper", "", ""},
  };
  for (const auto& call : calls) {
    auto v = troupe::decide(*p, call);
    TROUPE_FUZZ_CHECK(!v.rule_id.empty(), "a verdict names its rule");
  }
  return 0;
}
