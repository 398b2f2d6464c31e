// Whole-policy analyses: the version hash and the shadowed-rule check.

#include "core/policy.hpp"

#include <algorithm>
#include <cstdio>

#include "core/glob.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

// -- the version hash ---------------------------------------------------------------------------

json rule_json(const policy_rule& r) {
  return json{{"id", r.id},
              {"tool", r.tool},
              {"decision", to_string(r.decision)},
              {"paths", r.paths},
              {"command_prefix", r.command_prefix},
              {"command", r.command},
              {"hosts", r.hosts},
              {"agents", r.agents},
              {"roles", r.roles},
              {"tenants", r.tenants},
              {"secrets", r.secrets},
              {"network", r.network},
              {"unsandboxed", r.unsandboxed},
              {"timeout_ms", r.timeout_ms ? json(*r.timeout_ms) : json(nullptr)}};
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// -- shadowing ----------------------------------------------------------------------------------
//
// covers(a, b) is true only when every call b matches is certain to match a.
// Each test below is a sufficient condition; anything unclear returns false,
// so a warning is always right and some shadowed rules go unreported.

bool tool_covers(const std::string& a, const std::string& b) {
  return a == b || glob_matches_everything(a, glob_kind::name)
         || (is_literal_glob(b) && glob_match(a, b, glob_kind::name));
}

bool scope_covers(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty())
    return true;
  if (b.empty())
    return false;
  return std::all_of(b.begin(), b.end(), [&](const std::string& name) {
    return std::find(a.begin(), a.end(), name) != a.end();
  });
}

// Is every text glob `g` matches also matched by one of `globs`?
bool glob_covered(const std::vector<std::string>& globs, const std::string& g, glob_kind kind) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& a) {
    return a == g || glob_matches_everything(a, kind)
           || (is_literal_glob(g) && glob_match(a, g, kind));
  });
}

// `a_any`/`b_any`: the rule is a deny rule, whose condition holds when any
// value matches; grant rules need every value to match (policy_match.cpp).
bool globs_cover(const std::vector<std::string>& a, bool a_any, const std::vector<std::string>& b,
                 bool b_any, glob_kind kind) {
  if (a.empty())
    return true;
  if (b.empty())
    return false;
  // b fires when one value matches; the others may lie outside a's globs.
  if (!a_any && b_any)
    return false;
  return std::all_of(b.begin(), b.end(),
                     [&](const std::string& g) { return glob_covered(a, g, kind); });
}

bool starts_with(const std::vector<std::string>& argv, const std::vector<std::string>& prefix) {
  return argv.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), argv.begin());
}

bool command_covers(const policy_rule& a, const policy_rule& b) {
  if (!a.command.empty())
    return b.command == a.command;
  if (a.command_prefix.empty())
    return true;
  const auto& target = b.command_prefix.empty() ? b.command : b.command_prefix;
  return !target.empty() && starts_with(target, a.command_prefix);
}

bool covers(const policy_rule& a, const policy_rule& b) {
  const bool a_any = a.decision == decision_kind::deny;
  const bool b_any = b.decision == decision_kind::deny;
  return tool_covers(a.tool, b.tool) && scope_covers(a.agents, b.agents)
         && scope_covers(a.roles, b.roles) && scope_covers(a.tenants, b.tenants)
         && globs_cover(a.paths, a_any, b.paths, b_any, glob_kind::path)
         && globs_cover(a.hosts, a_any, b.hosts, b_any, glob_kind::host)
         && command_covers(a, b);
}

} // namespace

std::string policy_hash(const policy& p) {
  json rules = json::array();
  for (const auto& r : p.rules)
    rules.push_back(rule_json(r));
  json canonical{{"format", 1},
                 {"mode", to_string(p.mode)},
                 {"default", to_string(p.fallback)},
                 {"approval_timeout_ms", p.approval_timeout_ms},
                 {"rules", std::move(rules)}};
  // Only when present, so every policy written before [[effect]] existed
  // keeps the version its journaled decisions carry.
  if (!p.effects.empty()) {
    json effects = json::array();
    for (const auto& e : p.effects)
      effects.push_back({{"tool", e.tool}, {"effect", to_string(e.effect)}});
    canonical["effects"] = std::move(effects);
  }
  // nlohmann::json keeps object keys sorted, so dump() is canonical. `replace`
  // keeps it from throwing on invalid UTF-8 in a hand-built policy; the parser
  // never produces any (toml++ rejects it).
  auto text = canonical.dump(-1, ' ', false, json::error_handler_t::replace);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(text)));
  return hex;
}

std::vector<policy_warning> find_shadowed_rules(const policy& p) {
  std::vector<policy_warning> out;
  for (size_t j = 1; j < p.rules.size(); ++j) {
    const auto& b = p.rules[j];
    for (size_t i = 0; i < j; ++i) {
      const auto& a = p.rules[i];
      if (!covers(a, b))
        continue;
      out.push_back({b.line, b.column,
                     "rule '" + b.id + "' can never match: rule '" + a.id + "' (line "
                       + std::to_string(a.line) + ") comes first and matches every call '"
                       + b.id + "' matches; move '" + b.id + "' above it or narrow '" + a.id
                       + "'"});
      break;
    }
  }
  return out;
}

} // namespace troupe
