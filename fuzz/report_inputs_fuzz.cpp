// What `troupe report --baseline FILE` and `--since` / `GET /v1/kpis?since=`
// read from users, on hostile text: a report or a named error, a time or a
// named error, never a crash. A baseline the checker accepts compares with
// itself without a regression and renders; an accepted time renders back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/report/baseline.hpp"
#include "core/report/time_arg.hpp"
#include "fuzz/check.hpp"
#include "schemas/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr int64_t now_us = 1'796'000'000'000'000; // fixed: runs are repeatable
  if (auto since = troupe::report::parse_since(text, now_us); !since)
    TROUPE_FUZZ_CHECK(!troupe::render(since.error()).empty(), "a refused --since says why");

  auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded())
    return 0;
  if (auto err = troupe::report::check_report_json(doc, "fuzz-baseline.json")) {
    TROUPE_FUZZ_CHECK(troupe::render(err).find("fuzz-baseline.json") != std::string::npos,
                      "a refused baseline names its file");
    return 0;
  }
  auto self = troupe::report::compare(doc, doc, {});
  TROUPE_FUZZ_CHECK(!self.regressed(), "a report never regresses against itself");
  TROUPE_FUZZ_CHECK(!troupe::report::to_markdown(self).empty(), "a comparison renders");
  (void) troupe::report::to_json(self).dump();
  return 0;
}
