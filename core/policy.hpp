#pragma once
// Tool governance: which tool calls may run, which need a human's approval,
// and what a running tool receives (secrets, network). A policy is an
// ordered list of rules read from a TOML file or from a scenario's [policy]
// table; the first rule whose tool, scope and argument conditions all match a
// call decides it. The format and the exact semantics are in docs/policy.md.
//
// Everything here is pure: no actors, and no I/O besides `load_policy`
// reading its file. Parse failures are `runtime_errc::invalid_scenario` whose
// context is one line `path:line:column: what was wrong; expected ...`.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
// runtime_errc.hpp's CAF_ERROR_CODE_ENUM expansion calls caf::make_message
// without including it.
#include <caf/make_message.hpp>
#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"
#include "core/tool.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// How a policy's decisions take effect.
enum class policy_mode : uint8_t {
  /// Decisions apply; a call no rule matches gets the policy's `default`.
  enforce,
  /// Every call runs; the verdict reports what enforce mode would have
  /// decided (`would_deny`), to trial a policy on live traffic.
  audit,
  /// Like enforce, but a call no rule matches is denied whatever `default`
  /// says. The default mode.
  strict,
};

namespace detail {
struct rule_globs; // core/detail/policy_globs.hpp
} // namespace detail

/// One `[[rule]]`. Empty lists are "no condition" (the parser rejects empty
/// arrays in the file, so an empty list always means the key was absent).
struct policy_rule {
  std::string id;   ///< unique within the policy; letters, digits, '_', '-', '.'
  std::string tool; ///< tool name or name glob; "*" matches every tool
  decision_kind decision = decision_kind::deny;
  /// Workspace-relative path globs (normalized, see `normalize_path_glob`)
  /// over the call's `path`, `paths`, `file`, `dir` and `cwd` arguments.
  std::vector<std::string> paths;
  std::vector<std::string> command_prefix; ///< `argv` starts with these
  std::vector<std::string> command;        ///< `argv` is exactly this
  std::vector<std::string> hosts;          ///< host globs (lower case), `url` / `host`
  std::vector<std::string> agents;         ///< exact names; empty = any
  std::vector<std::string> roles;
  std::vector<std::string> tenants;
  std::vector<std::string> secrets; ///< secret names granted to the tool
  bool network = false;             ///< a process tool may use the network
  /// A process tool may run without isolation where this machine has none.
  /// Off by default: without it, process tools refuse to run there.
  bool unsandboxed = false;
  std::optional<uint64_t> timeout_ms; ///< approval timeout of `ask`
  /// Position of the rule's table in `policy::source`; 0 for built-in rules.
  int line = 0;
  int column = 0;
  /// `tool`, `paths` and `hosts` compiled when the policy loaded (the parsers
  /// and `default_policy` call `compile_globs`), so `decide` never compiles a
  /// glob of a loaded policy. A rule built or edited in code without
  /// `compile_globs` still decides correctly: `decide` uses this only while
  /// it was compiled from the rule's current globs, and compiles otherwise.
  /// Copies of the rule share it.
  std::shared_ptr<const detail::rule_globs> compiled;
};

/// An effect-class override (`[[effect]]`): tools whose name matches `tool`
/// (a name glob) are treated as `effect` by crash recovery, whatever their
/// own declaration says. For tools troupe learns of at run time (MCP
/// servers' annotations are hints); first match wins.
struct effect_override {
  std::string tool;
  tool_effect effect = tool_effect::unsafe;
  int line = 0; ///< of its table in `policy::source`
};

struct policy {
  policy_mode mode = policy_mode::strict;
  /// The decision for a call no rule matches (`default` in the file);
  /// ignored in strict mode.
  decision_kind fallback = decision_kind::deny;
  uint64_t approval_timeout_ms = 300000;
  std::vector<policy_rule> rules;
  std::vector<effect_override> effects;
  /// `policy_hash(*this)`, filled in by the parser and `default_policy`.
  std::string version;
  /// The file path or scenario that held the policy, for messages.
  std::string source;
};

/// A problem that does not make the policy invalid, at a 1-based position
/// in the policy's source.
struct policy_warning {
  int line = 0;
  int column = 0;
  std::string message;
};

/// The call being decided. `args` is the normalized argument object the
/// envelope produced (`prepare_call`).
struct call_context {
  std::string tool;
  nlohmann::json args;
  std::string agent;
  std::string role;
  std::string tenant;
};

/// What `decide` concluded, with everything the journal must record.
struct policy_verdict {
  /// What happens to the call: always `allow` in audit mode.
  decision_kind decision = decision_kind::deny;
  /// The id of the deciding rule, or "(default)" when no rule matched.
  std::string rule_id;
  std::string policy_version;
  /// One line for operators and the model, e.g.
  /// `denied by rule shell-rm: command prefix rm`.
  std::string reason;
  /// Audit mode only: enforce mode would have denied the call.
  bool would_deny = false;
  /// Secrets the tool receives (from an allow or ask rule; never on deny).
  std::vector<std::string> secrets;
  bool network = false;
  bool unsandboxed = false;
  /// For `ask`: how long to wait for approval before denying; 0 otherwise.
  uint64_t approval_timeout_ms = 0;
};

/// The rule id verdicts carry when no rule matched.
constexpr std::string_view default_rule_id = "(default)";

/// Parses policy text (TOML). `source` names it in messages and is stored in
/// `policy::source`. Warnings (e.g. a rule shadowed by an earlier one) are
/// appended to `*warnings` when it is not null.
/// @returns the policy, or `runtime_errc::invalid_scenario` for the first
///          problem found.
[[nodiscard]] caf::expected<policy>
parse_policy(std::string_view text, const std::string& source,
             std::vector<policy_warning>* warnings = nullptr);

/// Reads and parses `file`. A missing or unreadable file is
/// `runtime_errc::invalid_scenario` naming the path.
[[nodiscard]] caf::expected<policy>
load_policy(const std::filesystem::path& file,
            std::vector<policy_warning>* warnings = nullptr);

/// Compiles the globs of every rule of `p` into `policy_rule::compiled`.
void compile_globs(policy& p);

/// Decides `call` under `p`. Total: every call gets a verdict.
[[nodiscard]] policy_verdict decide(const policy& p, const call_context& call);

/// The policy used when a scenario names none (strict mode): allows
/// `read_file`, `write_file` and `list_dir` on paths inside the workspace,
/// and `echo` and `complete`; denies everything else.
[[nodiscard]] policy default_policy();

/// The version string of `p`: 16 lower-case hex digits of the 64-bit FNV-1a
/// hash of its canonical JSON form (format version, mode, default, approval
/// timeout and every rule field in order; not `source`, `version`, or rule
/// positions). Whitespace, comments and key order in the file do not change
/// it; any change to a value does.
[[nodiscard]] std::string policy_hash(const policy& p);

/// Warnings for rules no call can reach because an earlier rule matches every
/// call they match. Sound but incomplete: it warns only when certain.
/// `parse_policy` already reports these.
[[nodiscard]] std::vector<policy_warning> find_shadowed_rules(const policy& p);

/// "allow", "deny", "ask".
/// "enforce", "audit", "strict".
[[nodiscard]] std::string_view to_string(policy_mode m);

} // namespace troupe
