// The scenario's `policy` key: a table with the policy inline, or the path of
// a policy file relative to the scenario.

#include <toml++/toml.h>

#include "core/policy_toml.hpp"

namespace troupe {

caf::error attach_policy(const toml::table& root, const std::string& source,
                         const std::filesystem::path& base_dir, scenario& out) {
  auto* node = root.get("policy");
  if (node == nullptr)
    return {};
  auto where = [&] {
    auto& src = node->source();
    return source + ":" + std::to_string(src.begin.line) + ":"
           + std::to_string(src.begin.column) + ": ";
  };
  if (auto* table = node->as_table()) {
    auto p = policy_from_table(*table, source);
    if (!p)
      return std::move(p.error());
    out.governance = std::move(*p);
    return {};
  }
  if (auto* path = node->as_string()) {
    std::filesystem::path file = path->get();
    if (file.is_relative())
      file = base_dir / file;
    auto p = load_policy(file);
    if (!p)
      return std::move(p.error());
    out.governance = std::move(*p);
    return {};
  }
  return caf::make_error(runtime_errc::invalid_scenario,
                         where() + "'policy' must be a table or a file path; "
                                   "expected [policy] or policy = \"policy.toml\"");
}

} // namespace troupe
