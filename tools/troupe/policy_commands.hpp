#pragma once
// `troupe policy validate FILE` and `troupe policy explain FILE --tool NAME
// --args JSON [--agent A] [--role R] [--tenant T] [--json]`: check a policy
// file and show how it decides one call, without running anything.
// docs/policy.md describes the format; docs/cli.md the commands.

#include <string>

namespace troupe::cli {

/// Parses `file`. Prints `valid: N rules, version V` on stdout and each
/// warning as `FILE:LINE:COL: warning: ...` on stderr; exit 0. A bad or
/// unreadable file prints `troupe: FILE:LINE:COL: ...` on stderr; exit 64.
int policy_validate(const std::string& file);

/// Decides one call of `tool` with the argument object `args_json` (empty
/// means `{}`) under the policy in `file`, and prints the decision, the rule
/// that made it (id and FILE:LINE:COL) with the reason, and the policy's
/// version and mode; `json` prints one JSON object instead. Exit 0 whatever
/// the decision; 64 for a bad policy file, a bad `--args` or an empty `--tool`.
int policy_explain(const std::string& file, const std::string& tool,
                   const std::string& args_json, const std::string& agent,
                   const std::string& role, const std::string& tenant, bool json);

} // namespace troupe::cli
