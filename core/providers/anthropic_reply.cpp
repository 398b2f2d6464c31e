// Anthropic Messages replies.
//
// Streamed (SSE), each event an `event:` line naming its type and a `data:`
// line holding the same type:
//   message_start        {"message": {"usage": {"input_tokens", "output_tokens"}}}
//   content_block_start  {"index", "content_block": {"type": "text", "text"} |
//                                                   {"type": "tool_use", "id", "name", "input"}}
//   content_block_delta  {"index", "delta": {"type": "text_delta", "text"} |
//                                           {"type": "input_json_delta", "partial_json"}}
//   content_block_stop   {"index"}: a tool's partial_json pieces, joined, are its input
//   message_delta        {"delta": {"stop_reason"}, "usage": {"output_tokens"}} (cumulative)
//   message_stop         the end
//   ping                 nothing
//   error                {"error": {"type", "message"}}
// Other block, delta and event types (thinking, signatures, citations, and
// whatever the API adds: its versioning policy says to expect new ones) are
// skipped. A tool input with no pieces at all is `{}`; pieces that do not
// join into JSON are kept as written (the run reports them to the model as
// a parse failure, as for any malformed arguments).
//
// Whole: {"content": [blocks as above, complete], "stop_reason",
//         "usage": {"input_tokens", "output_tokens"}}.
//
// Input tokens count the cache reads and writes as well: all of it is
// context the request consumed.

#include <map>

#include "core/providers/detail/framed_decoder.hpp"
#include "core/providers/detail/providers.hpp"
#include "core/providers/sse.hpp"

namespace troupe::providers::detail {

namespace {

void read_usage(const json& holder, std::string_view where, model_response& out) {
  auto* u = optional_object(holder, "usage", where);
  if (u == nullptr)
    return;
  auto uwhere = path(where, "usage");
  auto input = optional_count(*u, "input_tokens", uwhere);
  auto created = optional_count(*u, "cache_creation_input_tokens", uwhere);
  auto read = optional_count(*u, "cache_read_input_tokens", uwhere);
  if (input || created || read)
    out.tokens.input = input.value_or(0) + created.value_or(0) + read.value_or(0);
  if (auto n = optional_count(*u, "output_tokens", uwhere))
    out.tokens.output = *n;
}

// A tool's input as args_json: the object dumped compactly, or the text as
// written when it is not JSON.
std::string input_text(const std::string& joined) {
  if (joined.find_first_not_of(" \t\r\n") == std::string::npos)
    return "{}";
  if (!within_depth(joined))
    return joined;
  auto v = json::parse(joined, nullptr, false);
  return v.is_discarded() ? joined : dump(v);
}

struct block {
  bool tool = false;
  bool stopped = false;
  call_parts call;
  std::string partial; ///< input_json_delta pieces
  std::string start_input; ///< the input content_block_start carried
};

class stream_decoder final : public framed_decoder<sse_parser, sse_event> {
public:
  stream_decoder(uint32_t turn, text_delta_fn on_text)
    : framed_decoder("anthropic stream", turn, std::move(on_text)) {}

private:
  void on_record(const sse_event& e) override {
    ++events_;
    auto data = parse(e.data, "JSON after 'data: '");
    if (!data.is_object())
      fail(std::string("expected a JSON object after 'data: ', got ") + type_name(data));
    // The data's own type is authoritative; the event name is its echo.
    auto type = optional_string(data, "type", "").value_or(e.type);
    if (type == "message_start") {
      read_usage(require_object(data, "message", ""), "message", out_);
    } else if (type == "content_block_start") {
      on_block_start(data);
    } else if (type == "content_block_delta") {
      on_block_delta(data);
    } else if (type == "content_block_stop") {
      on_block_stop(data);
    } else if (type == "message_delta") {
      if (auto* d = optional_object(data, "delta", ""))
        if (auto r = optional_string(*d, "stop_reason", "delta"))
          out_.finish_reason = *r;
      read_usage(data, "", out_);
    } else if (type == "message_stop") {
      ended_ = true;
    } else if (type == "error") {
      error_info err;
      if (!read_error_object(data, err))
        fail("error: expected an error object");
      failed(classify_error(err, 0), e.line, err);
    }
    // ping and unknown types: nothing to take.
  }

  int64_t index_of(const json& data) {
    auto index = optional_integer(data, "index", "");
    if (!index)
      fail("index: missing");
    return *index;
  }

  block& started(const json& data) {
    auto index = index_of(data);
    auto it = blocks_.find(index);
    if (it == blocks_.end())
      fail("content block " + std::to_string(index) + " was not started");
    return it->second;
  }

  void on_block_start(const json& data) {
    auto index = index_of(data);
    auto& cb = require_object(data, "content_block", "");
    auto type = optional_string(cb, "type", "content_block").value_or("");
    block b;
    if (type == "text") {
      add_text(optional_string(cb, "text", "content_block").value_or(""));
    } else if (type == "tool_use") {
      first_token();
      b.tool = true;
      b.call.id = optional_string(cb, "id", "content_block").value_or("");
      b.call.name = optional_string(cb, "name", "content_block").value_or("");
      if (auto* input = optional_object(cb, "input", "content_block"); input && !input->empty())
        b.start_input = dump(*input);
    }
    if (!blocks_.emplace(index, std::move(b)).second)
      fail("content block " + std::to_string(index) + " started twice");
  }

  void on_block_delta(const json& data) {
    auto& b = started(data);
    auto& delta = require_object(data, "delta", "");
    auto type = optional_string(delta, "type", "delta").value_or("");
    if (type == "text_delta") {
      add_text(optional_string(delta, "text", "delta").value_or(""));
    } else if (type == "input_json_delta") {
      if (!b.tool)
        fail("input_json_delta for content block " + std::to_string(index_of(data))
             + ", which is not a tool_use block");
      auto piece = optional_string(delta, "partial_json", "delta").value_or("");
      count_reply_bytes(piece.size());
      b.partial += piece;
    }
  }

  void on_block_stop(const json& data) {
    auto& b = started(data);
    if (b.stopped)
      fail("content block " + std::to_string(index_of(data)) + " stopped twice");
    b.stopped = true;
    if (b.tool)
      b.call.args = b.partial.empty() && !b.start_input.empty() ? b.start_input
                                                                 : input_text(b.partial);
  }

  void on_end() override {
    if (!ended_)
      fail(events_ == 0 ? "no events, and no message_stop" + began_with()
                        : "the stream ended after line " + std::to_string(lines())
                            + " without message_stop (truncated)");
    std::vector<call_parts> calls;
    for (auto& [index, b] : blocks_) {
      if (!b.tool)
        continue;
      if (!b.stopped)
        fail("tool_use block " + std::to_string(index) + " has no content_block_stop");
      calls.push_back(std::move(b.call));
    }
    take_calls(calls);
  }

  std::map<int64_t, block> blocks_; ///< by index: the order of the content
  uint64_t events_ = 0;
};

class body_decoder_impl final : public body_decoder {
public:
  body_decoder_impl(uint32_t turn, text_delta_fn on_text)
    : body_decoder("anthropic reply", turn, std::move(on_text)) {}

private:
  void decode(const json& body) override {
    read_usage(body, "", out_);
    out_.finish_reason = optional_string(body, "stop_reason", "").value_or("");
    auto& content = require_array(body, "content", "");
    std::vector<call_parts> calls;
    for (size_t i = 0; i < content.size(); ++i) {
      auto where = path("content", i);
      auto& b = content[i];
      if (!b.is_object())
        fail(where + ": expected an object, got " + type_name(b));
      auto type = optional_string(b, "type", where).value_or("");
      if (type == "text") {
        add_text(optional_string(b, "text", where).value_or(""));
      } else if (type == "tool_use") {
        auto* input = member(b, "input");
        std::string args = input == nullptr ? "{}" : dump(*input);
        count_reply_bytes(args.size());
        calls.push_back({optional_string(b, "id", where).value_or(""),
                         optional_string(b, "name", where).value_or(""), std::move(args)});
      }
    }
    take_calls(calls);
  }
};

} // namespace

std::unique_ptr<reply_decoder> anthropic_decoder(bool stream, uint32_t turn,
                                                 text_delta_fn on_text) {
  if (stream)
    return std::make_unique<stream_decoder>(turn, std::move(on_text));
  return std::make_unique<body_decoder_impl>(turn, std::move(on_text));
}

} // namespace troupe::providers::detail
