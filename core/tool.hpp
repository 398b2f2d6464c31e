#pragma once
// What a tool is: its name, what the model is told about it, the JSON Schema
// its arguments must satisfy, how replaying it behaves (the effect class), and
// the handler that runs it. Where a tool runs (sandbox actors) and whether it
// may run (policy) are decided elsewhere; see docs/design.md.

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace troupe {

/// How a tool behaves when the run loop must decide whether to run it again
/// after a crash (an intent was journaled but no result).
enum class tool_effect : uint8_t {
  /// No side effects: re-running is always safe and yields the same result
  /// for the same workspace state.
  pure,
  /// Side effects that converge: running twice with the same arguments (and
  /// the same idempotency key) leaves the same state as running once.
  idempotent,
  /// Side effects that may not be repeated; an intent without a result is
  /// reported as uncertain and handled by policy.
  unsafe,
};

/// The spelling of `e` in journals and configs ("pure", "idempotent", "unsafe").
[[nodiscard]] inline std::string_view to_string(tool_effect e) {
  switch (e) {
    case tool_effect::pure:
      return "pure";
    case tool_effect::idempotent:
      return "idempotent";
    case tool_effect::unsafe:
      return "unsafe";
  }
  return "unknown";
}

/// What a handler may know about the call it serves.
struct tool_context {
  /// Every file the tool touches must resolve inside this directory (see
  /// `resolve_in_workspace`).
  std::filesystem::path workspace_root;
  std::string run_id;
  std::string call_id;
  /// What the policy rule that allowed the call grants: secret names (the
  /// values are looked up by the tool, never carried in messages or journaled)
  /// and network access for process tools.
  std::vector<std::string> granted_secrets;
  bool network = false;
  /// The rule explicitly allows running without isolation where none exists.
  bool unsandboxed = false;

  /// The key an idempotent tool passes to external systems so a re-run
  /// after a crash is recognized as the same request: `run_id:call_id`.
  [[nodiscard]] std::string idempotency_key() const {
    return run_id + ":" + call_id;
  }
};

/// The result of one call, as the model will see it.
struct tool_outcome {
  bool ok = true;
  /// Text the model sees; for errors, the error message (naming the tool and
  /// what went wrong, so the model can correct its next call).
  std::string output;
  /// True when the same call may succeed if tried again later (a timeout, a
  /// busy resource), as opposed to a call that is wrong.
  bool retryable = false;
};

/// Runs one call. `args` has passed `prepare_call` (sanitized, schema-valid).
/// Handlers report failures as `tool_outcome{false, ...}` and must not throw;
/// `invoke_tool` still catches what escapes, so a buggy tool cannot end the
/// actor that runs it. Handlers may run concurrently on different threads.
using tool_handler
  = std::function<tool_outcome(const nlohmann::json& args, const tool_context& ctx)>;

/// A tool as the registry holds it.
struct tool_definition {
  /// Matches `[A-Za-z0-9_-]{1,64}`, the names model providers accept.
  std::string name;
  /// Shown to the model: what the tool does and when to use it.
  std::string description;
  /// JSON Schema of the argument object, in the subset `check_schema`
  /// accepts; the top level must be `"type": "object"`.
  nlohmann::json parameters;
  tool_effect effect = tool_effect::unsafe;
  tool_handler handler;
};

/// Calls `def.handler`, turning an escaped exception or a missing handler
/// into a failed outcome instead of letting it cross into the caller.
[[nodiscard]] inline tool_outcome invoke_tool(const tool_definition& def,
                                              const nlohmann::json& args,
                                              const tool_context& ctx) noexcept {
  try {
    if (!def.handler)
      return {false, def.name + ": tool has no handler", false};
    return def.handler(args, ctx);
  } catch (const std::exception& e) {
    return {false, def.name + ": internal error: " + e.what(), false};
  } catch (...) {
    return {false, def.name + ": internal error (unknown exception)", false};
  }
}

} // namespace troupe
