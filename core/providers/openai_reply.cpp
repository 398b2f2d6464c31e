// OpenAI Chat Completions replies.
//
// Streamed (SSE), each event one `data:` line, the last one "[DONE]":
//   {"object": "chat.completion.chunk", "choices": [{"index": 0,
//     "delta": {"role"?, "content"?, "tool_calls"?: [{"index", "id"?, "type"?,
//               "function": {"name"?, "arguments"?}}]},
//     "finish_reason": null | "stop" | "tool_calls" | "length" | ...}],
//    "usage": null | {"prompt_tokens", "completion_tokens"}}
// A tool call's first delta carries its id and name, later ones pieces of
// its arguments, all under the call's `index`. Some servers reuse index 0
// for every call, each new one with a new id; a new id therefore starts a
// new call. With stream_options.include_usage the last chunk before [DONE]
// has empty `choices` and the usage. An error arrives as a data line holding
// {"error": {...}} (vLLM: {"object": "error", ...}).
//
// Whole: {"choices": [{"message": {"content", "tool_calls": [{"id",
// "function": {"name", "arguments"}}]}, "finish_reason"}], "usage": {...}}.
//
// Only choice 0 is read (troupe never asks for n > 1). `refusal` text
// counts as text: it is what the model said. Reasoning fields some servers
// add (reasoning_content) are not part of the reply.

#include <map>

#include "core/providers/detail/framed_decoder.hpp"
#include "core/providers/detail/providers.hpp"
#include "core/providers/sse.hpp"

namespace troupe::providers::detail {

namespace {

void read_usage(const json& chunk, model_response& out) {
  auto* u = optional_object(chunk, "usage", "");
  if (u == nullptr)
    return;
  if (auto n = optional_count(*u, "prompt_tokens", "usage"))
    out.tokens.input = *n;
  if (auto n = optional_count(*u, "completion_tokens", "usage"))
    out.tokens.output = *n;
}

// Arguments are a string of JSON text; a few servers send the object
// itself, which means the same.
std::string arguments_text(const json& function, std::string_view where) {
  auto* a = member(function, "arguments");
  if (a == nullptr)
    return {};
  if (a->is_string())
    return a->get<std::string>();
  if (a->is_object())
    return dump(*a);
  fail(path(where, "arguments") + ": expected a string, got " + type_name(*a));
}

// The choice with index 0, or nullptr.
const json* first_choice(const json& choices, std::string_view where) {
  for (size_t i = 0; i < choices.size(); ++i) {
    auto& c = choices[i];
    if (!c.is_object())
      fail(path(where, i) + ": expected an object, got " + type_name(c));
    if (optional_integer(c, "index", path(where, i)).value_or(0) == 0)
      return &c;
  }
  return nullptr;
}

class stream_decoder final : public framed_decoder<sse_parser, sse_event> {
public:
  stream_decoder(uint32_t turn, text_delta_fn on_text)
    : framed_decoder("openai stream", turn, std::move(on_text)) {}

private:
  void on_record(const sse_event& e) override {
    if (e.data == "[DONE]") {
      ended_ = true;
      return;
    }
    ++events_;
    auto chunk = parse(e.data, "JSON after 'data: '");
    if (!chunk.is_object())
      fail(std::string("expected a JSON object after 'data: ', got ") + type_name(chunk));
    error_info err;
    if (read_error_object(chunk, err)) {
      failed(classify_error(err, 0), e.line, err);
      return;
    }
    read_usage(chunk, out_);
    auto* choices = optional_array(chunk, "choices", "");
    if (choices == nullptr) {
      if (member(chunk, "usage") == nullptr)
        fail("choices: missing");
      return;
    }
    auto* choice = first_choice(*choices, "choices");
    if (choice == nullptr)
      return;
    const std::string where = "choices[0]";
    auto reason = optional_string(*choice, "finish_reason", where);
    if (reason)
      out_.finish_reason = *reason;
    // Every chunk has a delta; a closing chunk without one says nothing else.
    if (reason && member(*choice, "delta") == nullptr)
      return;
    auto& delta = require_object(*choice, "delta", where);
    const std::string dwhere = where + ".delta";
    if (auto t = optional_string(delta, "content", dwhere))
      add_text(*t);
    if (auto t = optional_string(delta, "refusal", dwhere))
      add_text(*t);
    if (auto* calls = optional_array(delta, "tool_calls", dwhere))
      for (size_t i = 0; i < calls->size(); ++i)
        on_call_delta((*calls)[i], path(dwhere + ".tool_calls", i));
  }

  void on_call_delta(const json& d, const std::string& where) {
    if (!d.is_object())
      fail(where + ": expected an object, got " + type_name(d));
    first_token();
    auto index = optional_integer(d, "index", where);
    auto id = optional_string(d, "id", where).value_or("");
    call_parts& call = call_for(index, id);
    if (auto* f = optional_object(d, "function", where)) {
      auto name = optional_string(*f, "name", where + ".function").value_or("");
      if (call.name.empty())
        call.name = std::move(name);
      auto piece = arguments_text(*f, where + ".function");
      count_reply_bytes(piece.size());
      call.args += piece;
    }
  }

  // The call a delta continues, or a new one: a delta continues the call of
  // its index (without an index, the last call) unless it brings an id
  // other than that call's, which starts a new call.
  call_parts& call_for(std::optional<int64_t> index, const std::string& id) {
    auto current = index ? by_index_.find(*index) : by_index_.end();
    bool have = index ? current != by_index_.end() : !calls_.empty();
    size_t at = index ? (have ? current->second : 0) : calls_.size() - 1;
    if (have && (id.empty() || calls_[at].id.empty() || calls_[at].id == id)) {
      if (calls_[at].id.empty())
        calls_[at].id = id;
      return calls_[at];
    }
    calls_.push_back({id, {}, {}});
    if (index)
      by_index_[*index] = calls_.size() - 1;
    return calls_.back();
  }

  void on_end() override {
    if (!ended_)
      fail(events_ == 0 ? "no events, and no 'data: [DONE]'" + began_with()
                        : "the stream ended after line " + std::to_string(lines())
                            + " without 'data: [DONE]' (truncated)");
    take_calls(calls_);
  }

  std::vector<call_parts> calls_;
  std::map<int64_t, size_t> by_index_;
  uint64_t events_ = 0;
};

class body_decoder_impl final : public body_decoder {
public:
  body_decoder_impl(uint32_t turn, text_delta_fn on_text)
    : body_decoder("openai reply", turn, std::move(on_text)) {}

private:
  void decode(const json& body) override {
    read_usage(body, out_);
    auto& choices = require_array(body, "choices", "");
    auto* choice = first_choice(choices, "choices");
    if (choice == nullptr)
      fail("choices: no choice with index 0");
    const std::string where = "choices[0]";
    out_.finish_reason = optional_string(*choice, "finish_reason", where).value_or("");
    auto& message = require_object(*choice, "message", where);
    const std::string mwhere = where + ".message";
    add_text(optional_string(message, "content", mwhere).value_or(""));
    add_text(optional_string(message, "refusal", mwhere).value_or(""));
    std::vector<call_parts> calls;
    if (auto* list = optional_array(message, "tool_calls", mwhere))
      for (size_t i = 0; i < list->size(); ++i) {
        auto cwhere = path(mwhere + ".tool_calls", i);
        auto& c = (*list)[i];
        if (!c.is_object())
          fail(cwhere + ": expected an object, got " + type_name(c));
        auto& f = require_object(c, "function", cwhere);
        calls.push_back({optional_string(c, "id", cwhere).value_or(""),
                         optional_string(f, "name", cwhere + ".function").value_or(""),
                         arguments_text(f, cwhere + ".function")});
        count_reply_bytes(calls.back().args.size());
      }
    take_calls(calls);
  }
};

} // namespace

std::unique_ptr<reply_decoder> openai_decoder(bool stream, uint32_t turn, text_delta_fn on_text) {
  if (stream)
    return std::make_unique<stream_decoder>(turn, std::move(on_text));
  return std::make_unique<body_decoder_impl>(turn, std::move(on_text));
}

} // namespace troupe::providers::detail
