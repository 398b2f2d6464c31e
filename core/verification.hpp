#pragma once
// Self-verification, decided purely: after an agent calls `complete`, the
// checks its task carries (run_start.verification: a team phase's gate, or a
// scenario's [[run.verify]]) run; a failure is shown to the agent as a fix
// turn with the report, up to `max_fix_attempts` runs of the checks, and the
// run's final result carries the report of every attempt.
//
// The checks run outside the core (the `_verify` tool, sandbox/verify_tool.hpp):
// this file decides what runs (the policy decides command checks like a
// `shell` call), reads the tool's report back into the `verification` event,
// and writes the reports and the artifact records.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/policy.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// The internal tool that runs checks; never offered to a model, and no
/// scenario may list it.
inline constexpr std::string_view verify_tool = "_verify";

/// Check kinds, as scenarios and the journal spell them.
[[nodiscard]] bool valid_check_kind(std::string_view kind);

/// The `_verify` tool's arguments for one attempt: the checks, each command
/// check with the policy's verdict on running its argv as `shell` (a denied
/// one carries `denied` and is reported failed without running). `approved_by`
/// checks are the team's (core/team.hpp) and are left out.
[[nodiscard]] nlohmann::json verify_request(const std::vector<gate_check>& checks,
                                            const policy& governance, const std::string& agent,
                                            const std::string& tenant);

/// The `verification` event of `attempt` from the `_verify` tool's output;
/// output that is not its report fails every check with why.
[[nodiscard]] verification verification_of(uint32_t attempt, const std::vector<gate_check>& checks,
                                            bool tool_ok, const std::string& output);

/// One line per check: `[ok] name` / `[failed] name: output excerpt`.
[[nodiscard]] std::string verification_report(const verification& v);

/// The message of a fix turn: which checks failed, how, and what to do.
[[nodiscard]] std::string fix_turn_text(const std::string& report, uint32_t attempt,
                                        uint32_t max_attempts);

/// The artifact record of `path` from a passed verification's file check.
[[nodiscard]] std::optional<artifact> artifact_of(const verification& v, const std::string& path,
                                                  const std::string& role,
                                                  const std::string& phase);

/// The check a run with an artifact always carries first: the file exists
/// (and its hash is taken).
[[nodiscard]] gate_check artifact_check(const std::string& path);

} // namespace troupe
