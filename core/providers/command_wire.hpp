#pragma once
// The `command` provider's wire format, pure: the request a command model
// reads on stdin, the parser of the JSON lines it prints on stdout, and the
// decision that turns those lines and the way the process ended into a
// model_response. The process itself is net/command_process's;
// docs/scenario-format.md ("command provider") is the format for people.
//
// Reply grammar, one JSON object per line (LF or CRLF):
//   {"type":"text","text":S}                       a delta; deltas concatenate
//   {"type":"tool_call","id"?:S,"name":S,"arguments"?:OBJECT|S}
//   {"type":"usage","input":N,"output":N}          totals; the last one counts
//   {"type":"done","finish_reason"?:S}             the reply is complete
//   {"type":"error","message"?:S,"failure"?:S,"retry_after_ms"?:N}
// A line that is not a JSON object, or a known event with fields of the wrong
// type, is skipped and counted in `skipped_lines`; an object whose "type" is
// missing or unknown is counted in `unknown_events`; blank lines are ignored;
// lines after `done` are skipped. None of this is fatal: commands are local
// scripts and CLI tools that print banners, progress and warnings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

#include "core/model_endpoint.hpp"
#include "core/model_provider.hpp"

namespace troupe {

/// The request as one JSON object (no trailing newline): version (1),
/// run_id, agent, model, turn, request_index, endpoint, max_output_tokens,
/// messages in the OpenAI chat shape and tools as OpenAI function tools.
/// Fails with `runtime_errc::invalid_arguments` when a tool's
/// `parameters_json` is not JSON (the registry dumps parsed schemas, so only
/// hand-made calls can do that).
[[nodiscard]] caf::expected<std::string> command_request_json(const model_call& call,
                                                              const endpoint_config& e);

/// What the parser saw besides the reply.
struct command_reply_stats {
  uint64_t bytes = 0;          ///< stdout bytes in total, kept or not
  uint64_t skipped_lines = 0;  ///< noise: not JSON, not an object, bad fields, after done
  uint64_t unknown_events = 0; ///< objects whose "type" is missing or unknown
  uint64_t raw_cap = 0;        ///< the cap `raw` was kept under
  bool truncated = false;      ///< bytes > raw_cap: `raw` holds the first raw_cap bytes
};

/// The parsed reply: the answer so far, how it ended, and the raw output.
struct command_reply {
  std::string text;
  std::vector<tool_call_ref> tool_calls; ///< arguments compact JSON, or verbatim strings
  usage tokens;
  bool done = false;
  std::string finish_reason; ///< from `done`; "stop" or "tool_calls" when it gave none
  bool error = false;        ///< an `error` event came
  std::string error_message;
  std::string error_failure; ///< its "failure" when it names a model_failure
  uint64_t retry_after_ms = 0;
  command_reply_stats stats;
  std::string raw; ///< the first stats.raw_cap bytes of stdout
};

struct command_parser_limits {
  size_t raw_cap = size_t{1} << 20;   ///< raw stdout kept for people
  size_t max_line = size_t{8} << 20;  ///< a longer line is skipped, not buffered
};

/// Incremental parser of a command's stdout: bytes may be split anywhere
/// (inside a line, a UTF-8 sequence or a CRLF). Not thread-safe; feed it from
/// the thread that reads the pipe.
class command_reply_parser {
public:
  /// Tool calls without an id get `<id_prefix><n>`, n counting from 0 within
  /// this reply; give a prefix unique per request (e.g. its request index) so
  /// ids stay unique within a run and the same on replay.
  explicit command_reply_parser(std::string id_prefix, command_parser_limits limits = {});

  void feed(std::string_view bytes);

  /// Whether a text or tool_call event has been parsed (time to first token).
  [[nodiscard]] bool any_delta() const { return !reply_.text.empty() || !reply_.tool_calls.empty(); }

  /// Parses a last line that had no newline and hands the reply over. Call once.
  [[nodiscard]] command_reply finish();

private:
  void take_line(std::string_view line);
  void take_event(const nlohmann::json& event);

  std::string id_prefix_;
  command_parser_limits limits_;
  command_reply reply_;
  std::string line_;
  bool overlong_ = false; // dropping the rest of a line longer than max_line
};

/// How a command ended, as the process runner saw it.
enum class command_end : uint8_t {
  exited,      ///< `status` is its exit status
  signaled,    ///< `status` is the signal that ended it
  timed_out,   ///< killed at a deadline; `detail` says which
  canceled,    ///< killed because the request was canceled
  not_started, ///< could not be started; `detail` says why
};

struct command_exit {
  command_end end = command_end::exited;
  int status = 0;
  std::string detail;
  std::string stderr_tail; ///< the last bytes it wrote to stderr
};

/// The one decision: success only when the command exited 0 after a `done`
/// and reported no error. Otherwise the failure, in this order: canceled;
/// the command's own `error` event (its `failure` if it names one, else
/// server_error); timeout; not started (connection: nothing answered);
/// a non-zero exit, a signal or no `done` (server_error). Failure details
/// carry the stderr tail. A failed response keeps the token usage (spent)
/// and drops partial text and tool calls.
[[nodiscard]] model_response command_response(command_reply reply, const command_exit& exit);

} // namespace troupe
