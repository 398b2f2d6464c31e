// Deciding one call: find the first rule whose tool, scope and argument
// conditions match, then apply the policy's mode (docs/policy.md).

#include "core/policy.hpp"

#include <algorithm>
#include <array>

#include "core/detail/policy_globs.hpp"
#include "core/glob.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

constexpr std::array<const char*, 5> path_keys = {"path", "paths", "file", "dir", "cwd"};

/// One path-like or host argument: what the call said, and its canonical form
/// (nullopt when it cannot be checked: a path outside the workspace, a URL
/// without a plain host, a value that is not a string).
struct arg_value {
  std::string raw;
  std::optional<std::string> canonical;
};

using arg_values = std::vector<arg_value>;

template <class Normalize>
void collect(const json& value, Normalize normalize, arg_values& out) {
  auto add = [&](const json& v) {
    if (v.is_string())
      out.push_back({v.get<std::string>(), normalize(v.get<std::string>())});
    else
      out.push_back({v.dump(-1, ' ', false, json::error_handler_t::replace), std::nullopt});
  };
  if (value.is_array()) {
    for (const auto& v : value)
      add(v);
  } else {
    add(value);
  }
}

// A call that names no path works in the tool's default directory, the
// workspace root, so it is checked as if it named ".".
arg_values path_values(const json& args) {
  arg_values out;
  if (args.is_object())
    for (const char* key : path_keys)
      if (auto it = args.find(key); it != args.end())
        collect(*it, workspace_relative, out);
  if (out.empty())
    out.push_back({".", std::string{"."}});
  return out;
}

// Unlike paths there is no default destination: no host means no match.
arg_values host_values(const json& args) {
  arg_values out;
  if (!args.is_object())
    return out;
  if (auto it = args.find("url"); it != args.end())
    collect(*it, host_of_url, out);
  if (auto it = args.find("host"); it != args.end())
    collect(*it, normalize_host, out);
  return out;
}

std::optional<std::vector<std::string>> argv_of(const json& args) {
  if (!args.is_object())
    return std::nullopt;
  auto it = args.find("argv");
  if (it == args.end() || !it->is_array())
    return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string())
      return std::nullopt;
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string join(const std::vector<std::string>& words, std::string_view sep = " ") {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : std::string{sep}) + w;
  return out;
}

const std::string* first_match(const std::vector<compiled_glob>& globs, const arg_value& v) {
  if (!v.canonical)
    return nullptr;
  for (const auto& g : globs)
    if (g.matches(*v.canonical))
      return &g.pattern();
  return nullptr;
}

// Rules that grant (allow, ask) need every value inside their globs; deny rules
// fire on any one, so mixing a forbidden path with an allowed one never slips
// past a deny rule. `note` says why the condition matched.
bool globs_match(const std::vector<compiled_glob>& globs, const arg_values& values,
                 bool need_all, const char* noun, std::string& note) {
  if (values.empty())
    return false;
  for (const auto& v : values) {
    const auto* hit = first_match(globs, v);
    if (need_all && !hit)
      return false;
    if (hit && note.empty())
      note = std::string{noun} + " " + *v.canonical + " matches " + *hit;
    if (!need_all && hit)
      return true;
  }
  if (!need_all)
    return false;
  if (values.size() > 1)
    note += " (and " + std::to_string(values.size() - 1) + " more)";
  return true;
}

bool in_scope(const std::vector<std::string>& allowed, const std::string& value,
              const char* noun, std::vector<std::string>& notes) {
  if (allowed.empty())
    return true;
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    return false;
  notes.push_back(std::string{noun} + " " + value);
  return true;
}

bool command_matches(const policy_rule& r, const json& args, std::vector<std::string>& notes) {
  if (r.command_prefix.empty() && r.command.empty())
    return true;
  auto argv = argv_of(args);
  if (!argv)
    return false;
  if (!r.command.empty()) {
    if (*argv != r.command)
      return false;
    notes.push_back("command " + join(r.command));
    return true;
  }
  if (argv->size() < r.command_prefix.size()
      || !std::equal(r.command_prefix.begin(), r.command_prefix.end(), argv->begin()))
    return false;
  notes.push_back("command prefix " + join(r.command_prefix));
  return true;
}

bool compiled_from(const std::vector<compiled_glob>& compiled,
                   const std::vector<std::string>& globs) {
  return compiled.size() == globs.size()
         && std::equal(compiled.begin(), compiled.end(), globs.begin(),
                       [](const compiled_glob& c, const std::string& g) { return c.pattern() == g; });
}

std::vector<compiled_glob> compile_all(const std::vector<std::string>& globs, glob_kind kind) {
  std::vector<compiled_glob> out;
  out.reserve(globs.size());
  for (const auto& g : globs)
    out.push_back(compiled_glob::compile(g, kind));
  return out;
}

detail::rule_globs compile_rule(const policy_rule& r) {
  return {compiled_glob::compile(r.tool, glob_kind::name), compile_all(r.paths, glob_kind::path),
          compile_all(r.hosts, glob_kind::host)};
}

// The rule's compiled globs when they are its current ones (a loaded
// policy), else compiled now into `scratch` (a rule built or edited in code).
const detail::rule_globs& globs_of(const policy_rule& r, detail::rule_globs& scratch) {
  if (const auto* c = r.compiled.get(); c != nullptr && c->tool.pattern() == r.tool
                                        && compiled_from(c->paths, r.paths)
                                        && compiled_from(c->hosts, r.hosts))
    return *c;
  scratch = compile_rule(r);
  return scratch;
}

// True when `r` matches `call`; `notes` then lists the conditions that held.
bool rule_matches(const policy_rule& r, const call_context& call, std::vector<std::string>& notes) {
  detail::rule_globs scratch;
  const auto& globs = globs_of(r, scratch);
  if (!globs.tool.matches(call.tool))
    return false;
  if (!in_scope(r.agents, call.agent, "agent", notes) || !in_scope(r.roles, call.role, "role", notes)
      || !in_scope(r.tenants, call.tenant, "tenant", notes))
    return false;
  const bool need_all = r.decision != decision_kind::deny;
  if (!r.paths.empty()) {
    std::string note;
    if (!globs_match(globs.paths, path_values(call.args), need_all, "path", note))
      return false;
    notes.push_back(std::move(note));
  }
  if (!command_matches(r, call.args, notes))
    return false;
  if (!r.hosts.empty()) {
    std::string note;
    if (!globs_match(globs.hosts, host_values(call.args), need_all, "host", note))
      return false;
    notes.push_back(std::move(note));
  }
  return true;
}

std::string_view past_tense(decision_kind d) {
  switch (d) {
    case decision_kind::allow: return "allowed";
    case decision_kind::ask: return "held for approval";
    default: return "denied";
  }
}

// Why no rule matched, with the arguments that could not be checked named:
// they are the usual reason an expected allow rule did not apply.
std::string unmatched_reason(const policy& p, const call_context& call, decision_kind d) {
  std::string out = "no rule matched tool '" + call.tool + "'";
  for (const auto& v : path_values(call.args))
    if (!v.canonical)
      out += "; path '" + v.raw + "' is not a workspace-relative path";
  for (const auto& v : host_values(call.args))
    if (!v.canonical)
      out += "; '" + v.raw + "' has no checkable host";
  if (p.mode == policy_mode::strict)
    return out + "; strict mode denies unmatched calls";
  return out + "; the policy default is " + std::string{to_string(d)};
}

policy_rule builtin_rule(std::string tool, bool workspace_paths) {
  policy_rule r;
  r.id = "builtin-" + tool;
  r.tool = std::move(tool);
  r.decision = decision_kind::allow;
  if (workspace_paths)
    r.paths = {"**"};
  return r;
}

} // namespace

void compile_globs(policy& p) {
  for (auto& r : p.rules)
    r.compiled = std::make_shared<const detail::rule_globs>(compile_rule(r));
}

policy_verdict decide(const policy& p, const call_context& call) {
  policy_verdict v;
  v.policy_version = p.version;
  const policy_rule* rule = nullptr;
  std::vector<std::string> notes;
  for (const auto& r : p.rules) {
    notes.clear();
    if (rule_matches(r, call, notes)) {
      rule = &r;
      break;
    }
  }
  decision_kind d;
  std::string reason;
  if (rule) {
    d = rule->decision;
    v.rule_id = rule->id;
    reason = std::string{past_tense(d)} + " by rule " + rule->id + ": "
             + (notes.empty() ? "tool " + call.tool : join(notes, ", "));
    if (d != decision_kind::deny) {
      v.secrets = rule->secrets;
      v.network = rule->network;
      v.unsandboxed = rule->unsandboxed;
    }
  } else {
    d = p.mode == policy_mode::strict ? decision_kind::deny : p.fallback;
    v.rule_id = std::string{default_rule_id};
    reason = unmatched_reason(p, call, d);
  }
  if (p.mode == policy_mode::audit) {
    // The call runs; the verdict records what enforce mode would have done.
    v.decision = decision_kind::allow;
    v.would_deny = d == decision_kind::deny;
    v.reason = "audit: would be " + reason;
    if (!rule)
      v.reason = "audit: " + reason + " (not applied)";
    return v;
  }
  v.decision = d;
  v.reason = std::move(reason);
  if (d == decision_kind::ask)
    v.approval_timeout_ms = rule && rule->timeout_ms ? *rule->timeout_ms : p.approval_timeout_ms;
  return v;
}

policy default_policy() {
  policy p;
  p.mode = policy_mode::strict;
  p.fallback = decision_kind::deny;
  for (const char* tool : {"read_file", "write_file", "append_file", "list_dir"})
    p.rules.push_back(builtin_rule(tool, true));
  for (const char* tool : {"echo", "complete", "delegate"})
    p.rules.push_back(builtin_rule(tool, false));
  p.source = "(built-in default policy)";
  p.version = policy_hash(p);
  compile_globs(p);
  return p;
}

std::string_view to_string(policy_mode m) {
  switch (m) {
    case policy_mode::enforce: return "enforce";
    case policy_mode::audit: return "audit";
    case policy_mode::strict: return "strict";
  }
  return "unknown";
}

} // namespace troupe
