// `troupe policy validate` and `troupe policy explain`.

#include "schemas/json_text.hpp"
#include "tools/troupe/policy_commands.hpp"

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/policy.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using nlohmann::ordered_json;

void print_warnings(const std::string& file, const std::vector<policy_warning>& warnings) {
  for (const auto& w : warnings)
    std::cerr << file << ":" << w.line << ":" << w.column << ": warning: " << w.message << '\n';
}

int usage_error(const std::string& what) {
  std::cerr << "troupe: " << what << std::endl;
  return exit_usage;
}

// The argument object, or nullopt after printing why `text` is not one.
std::optional<nlohmann::json> parse_args(const std::string& text) {
  if (text.empty())
    return nlohmann::json::object();
  nlohmann::json args;
  try {
    args = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() starts with "[json.exception.parse_error.101] "; the rest names the position.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos)
      what.erase(0, pos + 2);
    usage_error("--args is not valid JSON (" + what + "); expected a JSON object like "
                "'{\"path\":\"a.txt\"}'");
    return std::nullopt;
  }
  if (!args.is_object()) {
    usage_error("--args is a JSON " + std::string{args.type_name()}
                + "; expected a JSON object like '{\"path\":\"a.txt\"}'");
    return std::nullopt;
  }
  return args;
}

const policy_rule* find_rule(const policy& p, const std::string& id) {
  for (const auto& r : p.rules)
    if (r.id == id)
      return &r;
  return nullptr;
}

std::string location(const policy& p, const policy_rule& r) {
  return p.source + ":" + std::to_string(r.line) + ":" + std::to_string(r.column);
}

ordered_json verdict_json(const policy& p, const policy_verdict& v, const policy_rule* rule) {
  return ordered_json{
    {"decision", to_string(v.decision)},
    {"rule", v.rule_id},
    {"rule_location", rule ? ordered_json(location(p, *rule)) : ordered_json(nullptr)},
    {"reason", v.reason},
    {"policy_version", v.policy_version},
    {"mode", to_string(p.mode)},
    {"would_deny", v.would_deny},
    {"secrets", v.secrets},
    {"network", v.network},
    {"approval_timeout_ms", v.approval_timeout_ms},
  };
}

void print_verdict(const policy& p, const policy_verdict& v, const policy_rule* rule) {
  std::printf("decision: %s\n", std::string{to_string(v.decision)}.c_str());
  if (p.mode == policy_mode::audit)
    std::printf("would deny: %s\n", v.would_deny ? "yes" : "no");
  if (rule)
    std::printf("rule: %s (%s)\n", v.rule_id.c_str(), location(p, *rule).c_str());
  else
    std::printf("rule: %s\n", v.rule_id.c_str());
  std::printf("reason: %s\n", v.reason.c_str());
  if (v.decision == decision_kind::ask)
    std::printf("approval timeout: %llu ms\n",
                static_cast<unsigned long long>(v.approval_timeout_ms));
  if (!v.secrets.empty()) {
    std::string names;
    for (const auto& s : v.secrets)
      names += (names.empty() ? "" : ", ") + s;
    std::printf("secrets: %s\n", names.c_str());
  }
  if (v.network)
    std::printf("network: allowed\n");
  std::printf("policy: %s, version %s, mode %s\n", p.source.c_str(), v.policy_version.c_str(),
              std::string{to_string(p.mode)}.c_str());
}

} // namespace

int policy_validate(const std::string& file) {
  std::vector<policy_warning> warnings;
  auto p = load_policy(file, &warnings);
  if (!p)
    return report(p.error());
  print_warnings(file, warnings);
  const auto n = p->rules.size();
  std::printf("valid: %zu %s, version %s\n", n, n == 1 ? "rule" : "rules", p->version.c_str());
  return exit_ok;
}

int policy_explain(const std::string& file, const std::string& tool,
                   const std::string& args_json, const std::string& agent,
                   const std::string& role, const std::string& tenant, bool json) {
  if (tool.empty())
    return usage_error("--tool is empty; expected the name of the tool to decide");
  std::vector<policy_warning> warnings;
  auto p = load_policy(file, &warnings);
  if (!p)
    return report(p.error());
  auto args = parse_args(args_json);
  if (!args)
    return exit_usage;
  print_warnings(file, warnings);
  auto v = decide(*p, call_context{tool, std::move(*args), agent, role, tenant});
  const auto* rule = find_rule(*p, v.rule_id);
  if (json)
    std::printf("%s\n", to_json_text(verdict_json(*p, v, rule)).c_str());
  else
    print_verdict(*p, v, rule);
  return exit_ok;
}

} // namespace troupe::cli
