#include "core/sandbox_spec.hpp"

#include <algorithm>
#include <array>

namespace troupe {

std::string redact(std::string_view text,
                   const std::map<std::string, std::string>& secrets) {
  struct needle {
    std::string_view value;
    std::string_view name;
  };
  std::vector<needle> needles;
  // A byte that starts no secret lets the scan skip the comparisons, which
  // keeps redacting megabytes of output cheap.
  std::array<bool, 256> starts{};
  for (const auto& [name, value] : secrets) {
    if (value.empty())
      continue; // an empty value would "occur" everywhere
    needles.push_back({value, name});
    starts[static_cast<unsigned char>(value.front())] = true;
  }
  if (needles.empty())
    return std::string{text};
  // Longest first: at one position the longest match wins, so a secret that
  // contains another (a token and its prefix) is never half redacted.
  std::stable_sort(needles.begin(), needles.end(),
                   [](const needle& a, const needle& b) {
                     return a.value.size() > b.value.size();
                   });
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const needle* hit = nullptr;
    if (starts[static_cast<unsigned char>(text[i])])
      for (const auto& n : needles)
        if (text.compare(i, n.value.size(), n.value) == 0) {
          hit = &n;
          break;
        }
    if (hit == nullptr) {
      out.push_back(text[i++]);
      continue;
    }
    out += "[REDACTED:";
    out += hit->name;
    out += ']';
    i += hit->value.size();
  }
  return out;
}

std::string redact_cut(std::string_view text,
                       const std::map<std::string, std::string>& secrets) {
  auto out = redact(text, secrets);
  for (auto& [name, value] : secrets) {
    for (size_t k = value.size() > 0 ? value.size() - 1 : 0; k >= 4; --k) {
      if (out.size() >= k && out.compare(out.size() - k, k, value, 0, k) == 0) {
        out.replace(out.size() - k, k, "[REDACTED:" + name + "]");
        break;
      }
    }
  }
  return out;
}

} // namespace troupe
