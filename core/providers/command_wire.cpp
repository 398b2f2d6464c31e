#include "core/providers/command_wire.hpp"

#include <utility>

#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"

namespace troupe {

using json = nlohmann::json;

namespace {

// Conversation text may hold anything a tool returned; invalid UTF-8 becomes
// U+FFFD instead of an exception.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view role_name(chat_role r) {
  switch (r) {
    case chat_role::system:
      return "system";
    case chat_role::user:
      return "user";
    case chat_role::assistant:
      return "assistant";
    case chat_role::tool:
      return "tool";
  }
  return "user";
}

json message_json(const chat_message& m) {
  json j{{"role", role_name(m.role)}, {"content", m.content}};
  if (m.role == chat_role::assistant && !m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back({{"id", c.call_id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.args_json}}}});
    j["tool_calls"] = std::move(calls);
  }
  if (m.role == chat_role::tool)
    j["tool_call_id"] = m.tool_call_id;
  return j;
}

// Reads an optional string field: absent or null leaves `out` alone; any
// other type is a malformed event (false).
bool optional_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return true;
  if (!it->is_string())
    return false;
  out = it->get<std::string>();
  return true;
}

bool optional_count(const json& j, const char* key, uint64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return true;
  if (!it->is_number_unsigned())
    return false;
  out = it->get<uint64_t>();
  return true;
}

std::string with_stderr(std::string detail, const std::string& tail) {
  auto end = tail.find_last_not_of("\r\n");
  if (end != std::string::npos)
    detail += "; stderr: " + tail.substr(0, end + 1);
  return detail;
}

std::string output_summary(const command_reply_stats& s) {
  return "stdout: " + std::to_string(s.bytes) + " bytes, " + std::to_string(s.skipped_lines)
         + " skipped lines, " + std::to_string(s.unknown_events) + " unknown events";
}

} // namespace

caf::expected<std::string> command_request_json(const model_call& call,
                                                const endpoint_config& e) {
  json messages = json::array();
  for (const auto& m : call.messages)
    messages.push_back(message_json(m));
  json tools = json::array();
  for (const auto& t : call.tools) {
    auto params = json::parse(t.parameters_json, nullptr, false);
    if (params.is_discarded())
      return caf::make_error(runtime_errc::invalid_arguments,
                             "command provider: the parameters of tool '" + t.name
                               + "' are not JSON");
    tools.push_back({{"type", "function"},
                     {"function",
                      {{"name", t.name},
                       {"description", t.description},
                       {"parameters", std::move(params)}}}});
  }
  json req{{"version", 1},
           {"run_id", call.run_id},
           {"agent", call.agent},
           {"model", call.model},
           {"turn", call.turn},
           {"request_index", call.request_index},
           {"endpoint", e.name},
           {"max_output_tokens", e.max_output_tokens},
           {"messages", std::move(messages)},
           {"tools", std::move(tools)}};
  return dump(req);
}

// -- the reply parser ---------------------------------------------------------

command_reply_parser::command_reply_parser(std::string id_prefix, command_parser_limits limits)
  : id_prefix_(std::move(id_prefix)), limits_(limits) {
  reply_.stats.raw_cap = limits_.raw_cap;
}

void command_reply_parser::feed(std::string_view bytes) {
  auto& st = reply_.stats;
  st.bytes += bytes.size();
  if (reply_.raw.size() < limits_.raw_cap)
    reply_.raw.append(bytes.substr(0, limits_.raw_cap - reply_.raw.size()));
  st.truncated = st.bytes > limits_.raw_cap;
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    auto piece = bytes.substr(0, nl);
    bool complete = nl != std::string_view::npos;
    if (!overlong_ && line_.size() + piece.size() > limits_.max_line) {
      overlong_ = true; // counted once, at its end; its bytes are not kept
      line_.clear();
    }
    if (!overlong_ && complete && line_.empty())
      take_line(piece); // the common case: a whole line, no copy
    else if (!overlong_)
      line_.append(piece);
    if (!complete)
      return;
    if (overlong_)
      ++st.skipped_lines;
    else if (!line_.empty())
      take_line(line_);
    overlong_ = false;
    line_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

command_reply command_reply_parser::finish() {
  if (overlong_)
    ++reply_.stats.skipped_lines;
  else if (!line_.empty())
    take_line(line_);
  line_.clear();
  overlong_ = false;
  if (reply_.done && reply_.finish_reason.empty())
    reply_.finish_reason = reply_.tool_calls.empty() ? "stop" : "tool_calls";
  return std::move(reply_);
}

void command_reply_parser::take_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  if (line.find_first_not_of(" \t\r") == std::string_view::npos)
    return; // blank lines are formatting, not noise
  if (reply_.done) {
    ++reply_.stats.skipped_lines;
    return;
  }
  auto event = json::parse(line.begin(), line.end(), nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    ++reply_.stats.skipped_lines;
    return;
  }
  take_event(event);
}

void command_reply_parser::take_event(const json& event) {
  auto& st = reply_.stats;
  auto type_it = event.find("type");
  if (type_it == event.end() || !type_it->is_string()) {
    ++st.unknown_events;
    return;
  }
  const auto& type = type_it->get_ref<const std::string&>();
  bool ok = true;
  if (type == "text") {
    auto it = event.find("text");
    ok = it != event.end() && it->is_string();
    if (ok)
      reply_.text += it->get_ref<const std::string&>();
  } else if (type == "tool_call") {
    tool_call_ref call;
    ok = optional_string(event, "id", call.call_id) && optional_string(event, "name", call.name)
         && !call.name.empty();
    auto args = event.find("arguments");
    if (args == event.end() || args->is_null())
      call.args_json = "{}";
    else if (args->is_object())
      call.args_json = dump(*args);
    else if (args->is_string())
      call.args_json = args->get<std::string>(); // verbatim, as a model may send it
    else
      ok = false;
    if (ok && call.call_id.empty())
      call.call_id = id_prefix_ + std::to_string(reply_.tool_calls.size());
    if (ok)
      reply_.tool_calls.push_back(std::move(call));
  } else if (type == "usage") {
    usage u = reply_.tokens;
    ok = optional_count(event, "input", u.input) && optional_count(event, "output", u.output);
    if (ok)
      reply_.tokens = u;
  } else if (type == "done") {
    std::string finish;
    ok = optional_string(event, "finish_reason", finish);
    if (ok) {
      reply_.done = true;
      reply_.finish_reason = std::move(finish);
    }
  } else if (type == "error") {
    std::string message = "the command reported an error";
    std::string failure;
    uint64_t retry = 0;
    ok = optional_string(event, "message", message) && optional_string(event, "failure", failure)
         && optional_count(event, "retry_after_ms", retry);
    if (ok) {
      reply_.error = true;
      reply_.error_message = std::move(message);
      reply_.error_failure = std::move(failure);
      reply_.retry_after_ms = retry;
    }
  } else {
    ++st.unknown_events;
    return;
  }
  if (!ok)
    ++st.skipped_lines;
}

// -- the decision ---------------------------------------------------------------

model_response command_response(command_reply reply, const command_exit& exit) {
  model_response r;
  r.tokens = reply.tokens;
  auto fail = [&](model_failure f, std::string detail) {
    r.failure = std::string(to_string(f));
    r.failure_detail = with_stderr(std::move(detail), exit.stderr_tail);
    return r;
  };
  if (exit.end == command_end::canceled)
    return fail(model_failure::canceled, "the request was canceled and the command killed");
  if (reply.error) {
    model_failure f = model_failure::server_error;
    model_failure named;
    if (from_string(reply.error_failure, named) && named != model_failure::none)
      f = named;
    r.retry_after_ms = reply.retry_after_ms;
    return fail(f, "the command reported an error: " + reply.error_message);
  }
  switch (exit.end) {
    case command_end::timed_out:
      return fail(model_failure::timeout, "the command was killed: " + exit.detail + " ("
                                            + output_summary(reply.stats) + ")");
    case command_end::not_started:
      return fail(model_failure::connection, exit.detail);
    case command_end::signaled:
      return fail(model_failure::server_error,
                  "the command was killed by signal " + std::to_string(exit.status));
    case command_end::exited:
      if (exit.status != 0)
        return fail(model_failure::server_error,
                    "the command exited with status " + std::to_string(exit.status));
      break;
    case command_end::canceled:
      break; // handled above
  }
  if (!reply.done)
    return fail(model_failure::server_error, "the command exited without a done event ("
                                               + output_summary(reply.stats) + ")");
  r.text = std::move(reply.text);
  r.tool_calls = std::move(reply.tool_calls);
  r.finish_reason = std::move(reply.finish_reason);
  return r;
}

} // namespace troupe
