#pragma once
// Tools the build does not define (an MCP server's) travel with the run:
// `run_start.external_tools` journals each one's name, description, schema
// and effect class as the run saw them when it started, and the registry a
// run decides with is rebuilt from that, live, on resume and in replay. So a
// server that changes its tools (or is gone) never changes how a journaled
// run is judged.
//
// Pure: no I/O.

#include <memory>
#include <vector>

#include <caf/expected.hpp>

#include "core/tool_registry.hpp"
#include "schemas/event.hpp"

namespace troupe {

/// What `run_start` journals of `def`.
[[nodiscard]] external_tool external_of(const tool_definition& def);

/// `base` plus `tools`. Their handlers only say where the tool runs: calls
/// of an external tool go to its server's actor, never through a registry
/// handler. Returns `base` itself when `tools` is empty.
/// Errors: `runtime_errc::invalid_arguments` for a journaled tool that
/// cannot be registered (a bad name or schema, an unknown effect, a name
/// `base` already has), naming it.
[[nodiscard]] caf::expected<std::shared_ptr<const tool_registry>>
with_external_tools(std::shared_ptr<const tool_registry> base,
                    const std::vector<external_tool>& tools);

} // namespace troupe
