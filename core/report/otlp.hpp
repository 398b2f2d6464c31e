#pragma once
// A run and its delegation tree as OpenTelemetry spans, in OTLP/JSON: one
// ExportTraceServiceRequest (resourceSpans -> scopeSpans -> spans), as the
// OTLP/HTTP JSON encoding defines it (ids as hex, times as unix nanoseconds
// in strings, 64-bit integers as strings, attributes as typed AnyValues,
// enums as integers). Pure: everything comes from the journal's events.
//
// Spans (kind INTERNAL):
//   run <agent>                      run_start .. completion (or its last event)
//     turn <n>                       turn_start .. turn_end (or the next turn,
//                                    the completion, the run's last event)
//       model <route>                model_request .. model_reply
//       tool <name>                  the call's first decision .. its result
//                                    (or the denial)
//         run <agent> (a child)      under the delegate call that started it
//
// Status: ERROR on a failed model reply (its failure), a denied or failed
// tool call, a parse failure, an out-of-scope stop, and a run that ended
// failed or limit_reached; otherwise UNSET (no status). Attributes carry tokens (gen_ai.usage.*),
// cost, the policy decision and rule, approvals, ids.
//
// Ids are derived from run ids, turns and call ids (64-bit FNV-1a, finalized
// by splitmix64, per half), never random: exporting the same run twice gives the same bytes.
// The trace id is the root run's, so every run of a tree shares one trace.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "schemas/event.hpp"

namespace troupe::report {

/// `runs`: each run's events in seq order, the exported top run first, then
/// its descendants (in any order). A child whose parent call is not among
/// them hangs under its parent's run span when that run is there, else it
/// is a root span.
[[nodiscard]] nlohmann::json to_otlp(const std::vector<std::vector<event>>& runs);

/// 32 hex digits from `root_run_id`; never all zero.
[[nodiscard]] std::string trace_id_of(const std::string& root_run_id);
/// 16 hex digits from `key`; never all zero.
[[nodiscard]] std::string span_id_of(const std::string& key);

} // namespace troupe::report
