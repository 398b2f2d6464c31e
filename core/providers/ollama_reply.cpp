// Ollama's native chat replies.
//
// Streamed (NDJSON), one object per line:
//   {"model", "created_at", "message": {"role": "assistant", "content": piece,
//     "tool_calls"?: [{"id"?, "function": {"index"?, "name", "arguments": {...}}}]},
//    "done": false}
//   ... and last {"message": {...}, "done": true, "done_reason": "stop",
//                 "prompt_eval_count", "eval_count", durations...}
// Tool calls arrive whole, each in the line that completes it. Older
// servers give them no id (troupe assigns "t{turn}c{k}"); newer ones do.
// An error arrives as a line {"error": "text"}. `thinking` is not part of
// the reply.
//
// Whole: the same object as the last line, with the whole content.

#include "core/providers/detail/framed_decoder.hpp"
#include "core/providers/detail/providers.hpp"
#include "core/providers/ndjson.hpp"

namespace troupe::providers::detail {

namespace {

// One response object, streamed or whole: its text and calls. The
// arguments object is dumped as the model wrote it; a string (some
// templates produce one) is kept as written.
template <class Decoder>
void read_message(Decoder& d, const json& obj, std::vector<call_parts>& calls) {
  auto* m = optional_object(obj, "message", "");
  if (m == nullptr)
    return;
  d.text(optional_string(*m, "content", "message").value_or(""));
  auto* list = optional_array(*m, "tool_calls", "message");
  if (list == nullptr)
    return;
  for (size_t i = 0; i < list->size(); ++i) {
    auto where = path("message.tool_calls", i);
    auto& c = (*list)[i];
    if (!c.is_object())
      fail(where + ": expected an object, got " + type_name(c));
    auto& f = require_object(c, "function", where);
    auto* a = member(f, "arguments");
    std::string args = a == nullptr ? "{}" : a->is_string() ? a->get<std::string>() : dump(*a);
    d.call(args.size());
    calls.push_back({optional_string(c, "id", where).value_or(""),
                     optional_string(f, "name", where + ".function").value_or(""),
                     std::move(args)});
  }
}

void read_end(const json& obj, model_response& out) {
  out.finish_reason = optional_string(obj, "done_reason", "").value_or("");
  out.tokens.input = optional_count(obj, "prompt_eval_count", "").value_or(0);
  out.tokens.output = optional_count(obj, "eval_count", "").value_or(0);
}

class stream_decoder final : public framed_decoder<ndjson_parser, ndjson_line> {
public:
  stream_decoder(uint32_t turn, text_delta_fn on_text)
    : framed_decoder("ollama stream", turn, std::move(on_text)) {}

  void text(const std::string& t) { add_text(t); }
  void call(size_t bytes) {
    first_token();
    count_reply_bytes(bytes);
  }

private:
  void on_record(const ndjson_line& l) override {
    ++objects_;
    auto obj = parse(l.text, "a JSON object");
    if (!obj.is_object())
      fail(std::string("expected a JSON object, got ") + type_name(obj));
    error_info err;
    if (read_error_object(obj, err)) {
      failed(classify_error(err, 0), l.line, err);
      return;
    }
    auto done = optional_bool(obj, "done", "");
    if (!done)
      fail("done: missing");
    read_message(*this, obj, calls_);
    if (*done) {
      read_end(obj, out_);
      ended_ = true;
    }
  }

  void on_end() override {
    if (!ended_)
      fail(objects_ == 0 ? "no objects, and none with done:true" + began_with()
                         : "the stream ended after line " + std::to_string(lines())
                             + " without a done:true object (truncated)");
    take_calls(calls_);
  }

  std::vector<call_parts> calls_;
  uint64_t objects_ = 0;
};

class body_decoder_impl final : public body_decoder {
public:
  body_decoder_impl(uint32_t turn, text_delta_fn on_text)
    : body_decoder("ollama reply", turn, std::move(on_text)) {}

  void text(const std::string& t) { add_text(t); }
  void call(size_t bytes) { count_reply_bytes(bytes); }

private:
  void decode(const json& body) override {
    if (optional_bool(body, "done", "") != true)
      fail("done: expected true in a whole reply");
    std::vector<call_parts> calls;
    read_message(*this, body, calls);
    read_end(body, out_);
    take_calls(calls);
  }
};

} // namespace

std::unique_ptr<reply_decoder> ollama_decoder(bool stream, uint32_t turn, text_delta_fn on_text) {
  if (stream)
    return std::make_unique<stream_decoder>(turn, std::move(on_text));
  return std::make_unique<body_decoder_impl>(turn, std::move(on_text));
}

} // namespace troupe::providers::detail
