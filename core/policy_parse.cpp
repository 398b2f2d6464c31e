// Parsing and validation of policy files (docs/policy.md). Like the scenario
// parser, it walks the toml++ tree once and returns the first problem with
// the position of the offending key or value.

#include "core/toml_text.hpp"
#include "core/policy.hpp"
#include "core/policy_toml.hpp"
#include "core/text_file.hpp"
#include "core/toml_limits.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <system_error>
#include <tuple>

#include <toml++/toml.h>

#include "core/glob.hpp"
#include "schemas/errors.hpp"

// The parser catches toml::parse_error; the Debian toml++ build uses exceptions.
static_assert(TOML_EXCEPTIONS, "policy_parse.cpp expects toml++ with exceptions enabled");

namespace troupe {

using detail::describe;
using detail::in_quotes;
using detail::join;

namespace {

using key_list = std::vector<std::string_view>;

const key_list top_keys = {"version", "mode", "default", "approval_timeout_ms", "rule",
                           "effect"};
const key_list effect_keys = {"tool", "effect"};

const key_list rule_keys = {"id",     "tool",   "decision", "paths",   "command_prefix",
                                "command", "hosts", "agents",   "roles",   "tenants",
                                "secrets", "network", "unsandboxed", "timeout_ms"};

constexpr const char* glob_chars = "*?[]!^\\";



bool only_chars(std::string_view s, std::string_view allowed) {
  return s.find_first_not_of(allowed) == s.npos;
}

constexpr std::string_view alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

bool is_rule_id(std::string_view s) {
  return !s.empty() && only_chars(s, std::string{alnum} + "_-.");
}

bool is_tool_glob(std::string_view s) {
  return only_chars(s, std::string{alnum} + "_-" + glob_chars);
}

bool is_secret_name(std::string_view s) {
  return !s.empty() && only_chars(s, std::string{alnum} + "_")
         && !(s.front() >= '0' && s.front() <= '9');
}

// Host patterns are compared in lower case; ':' only in IPv6 literals (two or
// more colons), so a port (`host:443`) is refused instead of never matching.
bool is_host_glob(std::string_view s) {
  if (!only_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.:" + std::string{glob_chars}))
    return false;
  return std::count(s.begin(), s.end(), ':') != 1;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// toml++ describes the token but not the key, so the offending line is quoted.
std::string syntax_error(std::string_view text, const toml::parse_error& e) {
  size_t begin = 0;
  for (uint32_t line = 1; line < e.source().begin.line && begin != text.npos; ++line)
    if ((begin = text.find('\n', begin)) != text.npos)
      ++begin;
  auto line = begin < text.size() ? text.substr(begin, text.find_first_of("\r\n", begin) - begin)
                                  : std::string_view{};
  std::string quote = line.empty() ? "" : " in `" + std::string{line.substr(0, 80)} + "`";
  return std::string{e.description()} + quote + "; expected valid TOML";
}

class policy_parser;

/// Checks (and may normalize) one element of a string list; returns the error to report at it.
using item_check = caf::error (*)(policy_parser&, const toml::node&, const std::string&,
                                  std::string&);

class policy_parser {
public:
  policy_parser(const std::string& source, policy& out, std::vector<policy_warning>* warnings)
    : source_(source), out_(out), warnings_(warnings) {
    // nop
  }

  [[nodiscard]] caf::error parse(const toml::table& root) {
    TROUPE_TRY(check_keys(root, "the policy", top_keys));
    TROUPE_TRY(parse_header(root));
    TROUPE_TRY(parse_rules(root));
    return parse_effects(root);
  }

  [[nodiscard]] caf::error fail(const toml::source_region& where, const std::string& what) const {
    // toml++ uses 0 for an unknown position; the top of the file is a better jump target.
    auto line = std::max<uint32_t>(where.begin.line, 1);
    auto column = std::max<uint32_t>(where.begin.column, 1);
    return caf::make_error(runtime_errc::invalid_scenario,
                           source_ + ":" + std::to_string(line) + ":" + std::to_string(column)
                             + ": " + what);
  }

  // -- element checks for read_list ------------------------------------------------------------

  static caf::error any_string(policy_parser& self, const toml::node& n, const std::string& what,
                               std::string& value) {
    if (value.empty())
      return self.fail(n.source(), what + " is empty; expected a name");
    return {};
  }

  static caf::error any_argv(policy_parser&, const toml::node&, const std::string&,
                             std::string&) {
    return {};
  }

  static caf::error path_glob(policy_parser& self, const toml::node& n, const std::string& what,
                              std::string& value) {
    if (auto err = check_glob(value, glob_kind::path))
      return self.fail(n.source(), what + " is " + in_quotes(value) + ": " + render(err)
                                     + "; expected a workspace-relative glob such as "
                                       "\"src/**\" (no leading '/', no '..')");
    value = normalize_path_glob(value);
    return {};
  }

  static caf::error host_glob(policy_parser& self, const toml::node& n, const std::string& what,
                              std::string& value) {
    value = lower(value);
    auto err = check_glob(value, glob_kind::host);
    if (!err && !is_host_glob(value))
      err = caf::make_error(runtime_errc::invalid_scenario,
                            "not a host name (a scheme, port or path?)");
    if (err)
      return self.fail(n.source(), what + " is " + in_quotes(value) + ": " + render(err)
                                     + "; expected a host name glob such as "
                                       "\"*.example.com\" (no scheme, port or path)");
    return {};
  }

  static caf::error secret_name(policy_parser& self, const toml::node& n,
                                const std::string& what, std::string& value) {
    if (!is_secret_name(value))
      return self.fail(n.source(), what + " is " + in_quotes(value)
                                     + ", not a secret name; expected letters, digits and "
                                       "'_', not starting with a digit");
    return {};
  }

private:
  // -- generic field readers ------------------------------------------------------------------

  caf::error check_keys(const toml::table& t, const std::string& where,
                        const key_list& allowed) const {
    for (auto&& [key, value] : t)
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
        return fail(key.source(), "unknown key " + in_quotes(key.str()) + " in " + where
                                    + "; expected one of " + join(allowed));
    return {};
  }

  caf::error wrong_type(const toml::node& n, std::string_view key, const std::string& where,
                        const std::string& expected) const {
    return fail(n.source(), in_quotes(key) + " in " + where + " is " + describe(n.type())
                              + "; expected " + expected);
  }

  caf::error read_string(const toml::table& t, const std::string& where, std::string_view key,
                         std::string& out, const char* required = nullptr) const {
    const auto* node = t.get(key);
    if (!node)
      return required ? fail(t.source(), "missing key " + in_quotes(key) + " in " + where
                                           + "; expected " + required)
                      : caf::error{};
    const auto* str = node->as_string();
    if (!str)
      return wrong_type(*node, key, where, "a string");
    out = str->get();
    return {};
  }

  // A positive number of milliseconds (zero would deny every `ask` at once).
  caf::error read_timeout(const toml::table& t, const std::string& where, std::string_view key,
                          std::optional<uint64_t>& out) const {
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* num = node->as_integer();
    if (!num)
      return wrong_type(*node, key, where, "an integer (milliseconds)");
    if (num->get() < 1)
      return fail(node->source(), in_quotes(key) + " in " + where + " is "
                                    + std::to_string(num->get()) + "; expected an integer from 1 to "
                                    + std::to_string(std::numeric_limits<int64_t>::max()));
    out = static_cast<uint64_t>(num->get());
    return {};
  }

  // Reads `key` as one of `names` (in enum order) into `out`.
  template <class Enum>
  caf::error read_enum(const toml::table& t, const std::string& where, std::string_view key,
                       const key_list& names, Enum& out, const char* required = nullptr) const {
    const auto* node = t.get(key);
    if (!node)
      return required ? fail(t.source(), "missing key " + in_quotes(key) + " in " + where
                                           + "; expected " + required)
                      : caf::error{};
    if (!node->is_string())
      return wrong_type(*node, key, where, "a string, one of " + join(names));
    const std::string& value = node->as_string()->get();
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == value) {
        out = static_cast<Enum>(i);
        return {};
      }
    }
    return fail(node->source(), "unknown " + std::string{key} + " " + in_quotes(value)
                                        + " in " + where + "; expected one of " + join(names));
  }

  // A non-empty array of strings, each passed through `check`.
  caf::error read_list(const toml::table& t, const std::string& where, std::string_view key,
                       item_check check, std::vector<std::string>& out) {
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* arr = node->as_array();
    if (!arr)
      return wrong_type(*node, key, where, "an array of strings");
    if (arr->empty())
      return fail(node->source(), in_quotes(key) + " in " + where
                                    + " is empty; expected at least one entry, or no key for "
                                      "no condition");
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto& item = (*arr)[i];
      const std::string what = in_quotes(key) + "[" + std::to_string(i) + "] of " + where;
      const auto* str = item.as_string();
      if (!str)
        return fail(item.source(), what + " is " + describe(item.type()) + "; expected a string");
      std::string value = str->get();
      TROUPE_TRY(check(*this, item, what, value));
      out.push_back(std::move(value));
    }
    return {};
  }

  void warn(const toml::source_region& where, const std::string& message) {
    if (warnings_)
      warnings_->push_back({static_cast<int>(std::max<uint32_t>(where.begin.line, 1)),
                            static_cast<int>(std::max<uint32_t>(where.begin.column, 1)),
                            message});
  }

  // -- sections -------------------------------------------------------------------------------

  caf::error parse_header(const toml::table& root) {
    const std::string where = "the policy";
    const auto* version = root.get("version");
    if (!version)
      return fail(root.source(), "missing key 'version' in the policy; expected version = 1");
    if (!version->is_integer())
      return wrong_type(*version, "version", where, "the integer 1");
    if (version->as_integer()->get() != 1)
      return fail(version->source(), "unsupported policy format version "
                                       + std::to_string(version->as_integer()->get())
                                       + "; expected 1");
    TROUPE_TRY(read_enum(root, where, "mode", {"enforce", "audit", "strict"}, out_.mode));
    TROUPE_TRY(read_enum(root, where, "default", {"allow", "deny", "ask"}, out_.fallback));
    std::optional<uint64_t> timeout;
    TROUPE_TRY(read_timeout(root, where, "approval_timeout_ms", timeout));
    if (timeout)
      out_.approval_timeout_ms = *timeout;
    if (out_.mode == policy_mode::strict && out_.fallback != decision_kind::deny)
      warn(root.get("default")->source(),
           "default = \"" + std::string{to_string(out_.fallback)}
             + "\" has no effect in strict mode: calls no rule matches are denied");
    return {};
  }

  caf::error parse_rules(const toml::table& root) {
    const auto* node = root.get("rule");
    if (!node)
      return {};
    const auto* rules = node->as_array();
    if (!rules)
      return wrong_type(*node, "rule", "the policy", "an array of tables [[rule]]");
    std::map<std::string, int> first_line; // rule id -> line of its rule
    for (size_t i = 0; i < rules->size(); ++i) {
      const auto& item = (*rules)[i];
      const auto* t = item.as_table();
      if (!t)
        return fail(item.source(), "rule #" + std::to_string(i + 1) + " is "
                                     + describe(item.type()) + "; expected a table [[rule]]");
      policy_rule rule;
      TROUPE_TRY(parse_rule(*t, i, rule));
      if (auto it = first_line.find(rule.id); it != first_line.end())
        return fail(t->get("id")->source(),
                    "duplicate id " + in_quotes(rule.id) + " in rule #" + std::to_string(i + 1)
                      + " (first at line " + std::to_string(it->second)
                      + "); expected unique rule ids");
      first_line.emplace(rule.id, rule.line);
      out_.rules.push_back(std::move(rule));
    }
    return {};
  }

  caf::error parse_effects(const toml::table& root) {
    const auto* node = root.get("effect");
    if (!node)
      return {};
    const auto* tables = node->as_array();
    if (!tables)
      return wrong_type(*node, "effect", "the policy", "an array of tables [[effect]]");
    for (size_t i = 0; i < tables->size(); ++i) {
      const auto& item = (*tables)[i];
      const auto* t = item.as_table();
      std::string where = "effect #" + std::to_string(i + 1);
      if (!t)
        return fail(item.source(), where + " is " + describe(item.type())
                                     + "; expected a table [[effect]]");
      TROUPE_TRY(check_keys(*t, where, effect_keys));
      effect_override e;
      e.line = static_cast<int>(std::max<uint32_t>(t->source().begin.line, 1));
      TROUPE_TRY(read_string(*t, where, "tool", e.tool, "a tool name or glob"));
      if (auto err = check_glob(e.tool, glob_kind::name))
        return fail(t->get("tool")->source(),
                    "'tool' in " + where + " is " + in_quotes(e.tool) + ": " + render(err));
      TROUPE_TRY(read_enum(*t, where, "effect", {"pure", "idempotent", "unsafe"}, e.effect,
                           "\"pure\", \"idempotent\" or \"unsafe\""));
      out_.effects.push_back(std::move(e));
    }
    return {};
  }

  caf::error parse_rule(const toml::table& t, size_t index, policy_rule& r) {
    std::string where = "rule #" + std::to_string(index + 1);
    r.line = static_cast<int>(std::max<uint32_t>(t.source().begin.line, 1));
    r.column = static_cast<int>(std::max<uint32_t>(t.source().begin.column, 1));
    // Unknown keys first (a misspelled `idd` is reported as such), named by the
    // id when there is a usable one.
    if (const auto* id = t.get("id"); id && id->is_string() && is_rule_id(id->as_string()->get()))
      where += " " + in_quotes(id->as_string()->get());
    TROUPE_TRY(check_keys(t, where, rule_keys));
    TROUPE_TRY(read_string(t, where, "id", r.id, "a unique rule id"));
    if (!is_rule_id(r.id))
      return fail(t.get("id")->source(), "'id' in " + where + " is " + in_quotes(r.id)
                                           + "; expected letters, digits, '_', '-' or '.'");
    TROUPE_TRY(read_string(t, where, "tool", r.tool, "a tool name or glob (\"*\" for any)"));
    if (r.tool.empty() || !is_tool_glob(r.tool))
      return fail(t.get("tool")->source(),
                  "'tool' in " + where + " is " + in_quotes(r.tool)
                    + "; expected a tool name or glob of letters, digits, '_', '-' and *?[]");
    if (auto err = check_glob(r.tool, glob_kind::name))
      return fail(t.get("tool")->source(), "'tool' in " + where + " is " + in_quotes(r.tool)
                                             + ": " + render(err)
                                             + "; expected a tool name or glob");
    TROUPE_TRY(read_enum(t, where, "decision", {"allow", "deny", "ask"}, r.decision,
                         "allow, deny or ask"));
    TROUPE_TRY(parse_conditions(t, where, r));
    TROUPE_TRY(read_list(t, where, "secrets", &policy_parser::secret_name, r.secrets));
    if (const auto* net = t.get("network")) {
      if (!net->is_boolean())
        return wrong_type(*net, "network", where, "true or false");
      r.network = net->as_boolean()->get();
    }
    if (const auto* uns = t.get("unsandboxed")) {
      if (!uns->is_boolean())
        return wrong_type(*uns, "unsandboxed", where, "true or false");
      r.unsandboxed = uns->as_boolean()->get();
    }
    TROUPE_TRY(read_timeout(t, where, "timeout_ms", r.timeout_ms));
    warn_idle_keys(t, where, r);
    return {};
  }

  caf::error parse_conditions(const toml::table& t, const std::string& where, policy_rule& r) {
    TROUPE_TRY(read_list(t, where, "paths", &policy_parser::path_glob, r.paths));
    TROUPE_TRY(read_list(t, where, "command_prefix", &policy_parser::any_argv, r.command_prefix));
    TROUPE_TRY(read_list(t, where, "command", &policy_parser::any_argv, r.command));
    if (!r.command.empty() && !r.command_prefix.empty()) {
      const auto* later = t.get("command");
      if (later->source().begin < t.get("command_prefix")->source().begin)
        later = t.get("command_prefix");
      return fail(later->source(), where + " has both 'command' and 'command_prefix'; expected "
                                           "one of them (command is an exact argv, "
                                           "command_prefix its first elements)");
    }
    TROUPE_TRY(read_list(t, where, "hosts", &policy_parser::host_glob, r.hosts));
    TROUPE_TRY(read_list(t, where, "agents", &policy_parser::any_string, r.agents));
    TROUPE_TRY(read_list(t, where, "roles", &policy_parser::any_string, r.roles));
    return read_list(t, where, "tenants", &policy_parser::any_string, r.tenants);
  }

  // Keys a rule's decision ignores are accepted (so a decision can be flipped
  // without deleting them) but reported, since they suggest a mistake.
  void warn_idle_keys(const toml::table& t, const std::string& where, const policy_rule& r) {
    if (r.decision == decision_kind::deny) {
      for (std::string_view key : {"secrets", "network"})
        if (const auto* n = t.get(key); n && !(key == "network" && !r.network))
          warn(n->source(), in_quotes(key) + " in " + where
                              + " has no effect: a deny rule grants nothing");
    }
    if (r.decision != decision_kind::ask)
      if (const auto* n = t.get("timeout_ms"))
        warn(n->source(), "'timeout_ms' in " + where
                            + " has no effect: only ask rules wait for approval");
  }

  const std::string& source_;
  policy& out_;
  std::vector<policy_warning>* warnings_;
};

// Parses `table` and appends its warnings, shadowed rules included, to `*warnings`.
caf::expected<policy> build(const toml::table& table, const std::string& source,
                            std::vector<policy_warning>* warnings) {
  policy result;
  result.source = source;
  policy_parser parser{source, result, warnings};
  const size_t first_warning = warnings ? warnings->size() : 0;
  if (auto err = parser.parse(table)) {
    // Warnings about a policy that does not exist would only distract from the error.
    if (warnings)
      warnings->resize(first_warning);
    return err;
  }
  result.version = policy_hash(result);
  compile_globs(result);
  if (warnings) {
    auto shadowed = find_shadowed_rules(result);
    warnings->insert(warnings->end(), shadowed.begin(), shadowed.end());
    // In file order, so an editor's jump list reads top to bottom.
    auto begin = warnings->begin() + static_cast<std::ptrdiff_t>(first_warning);
    std::stable_sort(begin, warnings->end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
  }
  return result;
}

} // namespace

caf::expected<policy> policy_from_table(const toml::table& table, const std::string& source,
                                        std::vector<policy_warning>* warnings) {
  return build(table, source, warnings);
}

caf::expected<policy> parse_policy(std::string_view text, const std::string& source,
                                   std::vector<policy_warning>* warnings) {
  TROUPE_TRY(check_toml_limits(text, source));
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{source});
  } catch (const toml::parse_error& e) {
    policy unused;
    return policy_parser{source, unused, nullptr}.fail(e.source(), syntax_error(text, e));
  }
  return build(root, source, warnings);
}

caf::expected<policy> load_policy(const std::filesystem::path& file,
                                  std::vector<policy_warning>* warnings) {
  const std::string source = file.string();
  auto text = read_text_file(source, "policy file");
  if (!text)
    return std::move(text.error());
  return parse_policy(*text, source, warnings);
}

} // namespace troupe

