#pragma once
// One MCP server (`[mcp.NAME]` of one scenario): a detached actor that owns
// the server's session (mcp/session.hpp) and is its supervisor. It answers
// what a tool worker answers, so a run sends an MCP tool's call here
// exactly as it sends a built-in tool's to the tool pool:
//
//   (execute_atom, tool_request, int64_t give_up_ns) -> tool_outcome
//       Calls the tool (the request names it `NAME__tool`) with the call's
//       arguments and a timeout of the server's `call_timeout_ms`, never past
//       `give_up_ns` (steady clock, when the run stops waiting). A result
//       with `isError` or a JSON-RPC error is a failed outcome; a call the
//       server never answered (timeout, crash) fails with the reason and is
//       retryable when trying again can help (the run's retry policy
//       decides). A call that comes while the server is down waits
//       for its restart, at most until `give_up_ns`; then it fails,
//       retryable, saying why the server is down. Never an error message.
//   (mcp_tools_atom) -> std::vector<mcp_tool>
//       Every tool the server lists now (what `tools/list` said, refreshed
//       on `notifications/tools/list_changed`). Starts the server first if
//       it is down (also during a restart's backoff); an error when it
//       cannot be started, naming why.
//
// Supervision: the server is started when the actor starts. When it goes
// away (crash, exit, expired HTTP session) every call in flight fails with
// the reason and the actor starts it again after a backoff of 100 ms
// doubling to 30 s, back to 100 ms once a start has lasted a minute.
// Starting blocks this actor's own thread (it is detached) for at most the
// server's startup timeout. The actor ends the session (and kills a stdio
// server) when it exits.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "core/mcp/mcp_types.hpp"
#include "mcp/server_start.hpp"

namespace troupe {

using mcp_tools_atom = caf::atom_constant<caf::atom("mcptools")>;

[[nodiscard]] caf::actor spawn_mcp_server(caf::actor_system& sys, mcp::server_setup setup);

} // namespace troupe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<troupe::mcp_tool>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::mcp_call_result)
