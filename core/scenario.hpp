#pragma once
// A scenario file describes one run: which agent starts, its limits, where
// file tools may write, which models and agents exist, and (for the
// deterministic `script` provider) the replies each agent receives in order.
// The format is documented in docs/scenario-format.md.
//
// Parsing is pure: no actors and no I/O besides `load_scenario` reading the
// file. Every failure is `runtime_errc::invalid_scenario` whose context is one
// string `path:line:column: what was wrong; what was expected`.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
// runtime_errc.hpp's CAF_ERROR_CODE_ENUM expansion calls caf::make_message
// without including it.
#include <caf/make_message.hpp>

#include "core/mcp/mcp_types.hpp"
#include "core/model_endpoint.hpp"
#include "core/policy.hpp"
#include "schemas/event.hpp"
#include "core/runtime_errc.hpp"

namespace troupe {

/// A scenario's `[limits]`: the budgets journaled in run_start. The parser
/// rejects 0 except for the two error tolerances.
using run_limits = limits_record;

/// One tool call of a scripted reply.
struct scripted_tool_call {
  /// Empty when the script gave none; the provider then generates one.
  std::string id;
  std::string name;
  /// The `args` table dumped as compact JSON (`{}` when omitted), or the
  /// `args_json` text verbatim for `raw_tool_calls` (possibly malformed).
  std::string args_json;
};

/// A provider failure a scripted reply may simulate instead of a message.
enum class scripted_failure : uint8_t { none, timeout, rate_limited, server_error };

/// The scenario spelling of `f` ("none", "timeout", "rate_limited",
/// "server_error").
[[nodiscard]] std::string_view to_string(scripted_failure f);

/// One reply of the scripted provider. Exactly one of: tool calls (with
/// optional text), text only, or a failure (then text and tool_calls are empty).
struct scripted_reply {
  std::string text;
  std::vector<scripted_tool_call> tool_calls;
  scripted_failure failure = scripted_failure::none;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
};

/// One candidate of a route: a model served by a declared endpoint.
struct route_target {
  std::string endpoint; ///< names an entry of scenario::endpoints
  std::string model;
};

struct model_config {
  std::string name; ///< the X of [models.X]
  /// "script" (the scenario's [script] replies) or "route": served by
  /// endpoints through the gateway.
  std::string provider = "script";
  /// fallback, latency_first, cost_first, quality_first or tiers.
  std::string strategy = "fallback";
  std::vector<route_target> route; ///< in declared order; empty for tiers
  /// strategy tiers: trivial, standard, complex -> that tier's route in
  /// order. `standard` is always there; a missing tier uses it.
  std::map<std::string, std::vector<route_target>> tiers;
  /// Hedging: after this quantile of the chosen candidate's latency the same
  /// request goes to the next candidate too; 0 turns hedging off.
  double hedge_quantile = 0;
  /// Attempts per model request across candidates (first one included).
  uint32_t max_attempts = 3;
};

struct agent_config {
  std::string name;  ///< the X of [agents.X]
  std::string model; ///< names an entry of scenario::models
  std::string instructions;
  /// Tool names in file order; always contains "complete", no duplicates.
  /// Contains "delegate" exactly when `delegates` is not empty.
  std::vector<std::string> tools;
  /// The agents it may delegate to: its edges of the delegation graph.
  std::vector<std::string> delegates;
  /// The file its runs must produce (workspace-relative); checked and
  /// recorded with its hash after `complete` (core/verification.hpp).
  std::string artifact;
};

/// `[teams.NAME]`: an SOP team (core/team.hpp).
struct team_config {
  std::string name;
  std::vector<team_phase> phases; ///< in order; roles name agents
};

struct scenario {
  std::string source;            ///< the file path as given (for messages)
  std::string agent;             ///< [run].agent; names an entry of agents
  std::string task;              ///< may be empty: the CLI --task then must give one
  std::string tenant = "default";
  /// `[limits]`, with `[delegation]`'s max_depth, max_children and max_runs
  /// (as max_descendants = max_runs - 1) in it.
  run_limits limits;
  /// `[delegation].children_on_end`: "cancel" or "wait".
  std::string children_on_end = "cancel";
  /// `[run].team`: the run is this team's (then `agent` is empty).
  std::string team;
  std::map<std::string, team_config> teams;
  /// `[[run.verify]]`: checks after the starting agent's `complete`.
  std::vector<gate_check> verify;
  uint32_t max_fix_attempts = 3; ///< `[run].max_fix_attempts`
  /// Absolute and lexically normalized, without a trailing separator.
  /// Default: "<scenario dir>/work".
  std::filesystem::path workspace_root;
  /// The declared task tier (trivial, standard, complex) for `tiers`
  /// routes; empty: inferred per request.
  std::string tier;
  std::map<std::string, endpoint_config> endpoints;
  std::map<std::string, model_config> models;
  /// [mcp.NAME]: MCP servers whose tools (NAME__tool) agents may list.
  std::map<std::string, mcp_server_config> mcp_servers;
  std::map<std::string, agent_config> agents;
  /// Agent name -> replies in the order the provider hands them out. Every
  /// key names an entry of agents; an agent may have no entry.
  std::map<std::string, std::vector<scripted_reply>> scripts;
  /// The tool policy: `[policy]` inline, `policy = "file.toml"` (relative to
  /// the scenario), or the built-in default_policy() when neither is given.
  troupe::policy governance = default_policy();
};

/// Parses scenario text. `source` names the text in error messages (usually
/// the file path as the user gave it). `base_dir` resolves a relative
/// [workspace].root and the default root; a relative `base_dir` is taken
/// relative to the current directory. `known_tools` are the tool names the
/// registry offers; an agent listing any other tool is an error, except
/// "complete", which the runtime always provides.
/// @returns the scenario, or `runtime_errc::invalid_scenario` for the first
///          problem found.
[[nodiscard]] caf::expected<scenario>
parse_scenario(std::string_view text, const std::string& source,
               const std::filesystem::path& base_dir,
               const std::vector<std::string>& known_tools);

/// Reads and parses `file`; relative paths inside resolve against the file's
/// directory. A missing or unreadable file is `runtime_errc::invalid_scenario`
/// naming the path.
[[nodiscard]] caf::expected<scenario>
load_scenario(const std::filesystem::path& file,
              const std::vector<std::string>& known_tools);

} // namespace troupe
