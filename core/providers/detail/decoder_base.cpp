#include "core/providers/detail/decoder_base.hpp"

namespace troupe::providers::detail {

namespace {

constexpr size_t head_bytes = 60;

} // namespace

decoder_base::decoder_base(std::string label, uint32_t turn, text_delta_fn on_text)
  : label_(std::move(label)), turn_(turn), on_text_(std::move(on_text)) {}

void decoder_base::add_text(std::string_view piece) {
  if (piece.empty())
    return;
  count_reply_bytes(piece.size());
  out_.text.append(piece);
  first_token_ = true;
  if (on_text_)
    on_text_(piece);
}

void decoder_base::first_token() {
  if (first_token_)
    return;
  first_token_ = true;
  if (on_text_)
    on_text_(std::string_view());
}

void decoder_base::count_reply_bytes(size_t n) {
  reply_bytes_ += n;
  if (reply_bytes_ > max_reply_bytes)
    fail("the reply's text and tool arguments exceed " + std::to_string(max_reply_bytes)
         + " bytes");
}

void decoder_base::malformed(uint64_t line, std::string_view what) noexcept {
  if (stopped())
    return;
  try {
    std::string detail = label_;
    if (line != 0)
      detail += ": line " + std::to_string(line);
    detail += ": ";
    detail += what;
    out_.failure_detail = redact_detail(detail, {});
    out_.failure = std::string(to_string(model_failure::malformed));
  } catch (...) {
    out_.failure = "malformed"; // out of memory while saying why: say less
  }
}

void decoder_base::failed(model_failure f, uint64_t line, const error_info& e) noexcept {
  if (stopped())
    return;
  try {
    std::string detail = label_;
    if (line != 0)
      detail += ": line " + std::to_string(line);
    detail += ": the server sent an error: " + describe(e);
    out_.failure_detail = redact_detail(detail, {});
    out_.failure = std::string(to_string(f));
  } catch (...) {
    out_.failure = std::string(to_string(f));
  }
}

void decoder_base::take_calls(std::vector<call_parts>& calls) {
  for (size_t k = 0; k < calls.size(); ++k) {
    auto& c = calls[k];
    if (c.name.empty())
      fail("tool call " + std::to_string(k + 1) + " has no function name");
    if (c.id.empty())
      c.id = "t" + std::to_string(turn_) + "c" + std::to_string(k + 1);
    // No arguments at all is a call without parameters, not a broken one.
    if (c.args.find_first_not_of(" \t\r\n") == std::string::npos)
      c.args = "{}";
    out_.tool_calls.push_back({std::move(c.id), std::move(c.name), std::move(c.args)});
  }
  calls.clear();
}

void decoder_base::drop_partial_reply() {
  out_.text.clear();
  out_.tool_calls.clear();
  out_.finish_reason.clear();
}

void decoder_base::remember_head(std::string_view bytes) {
  if (head_.size() < head_bytes)
    head_.append(bytes.substr(0, head_bytes - head_.size()));
}

std::string decoder_base::began_with() const {
  if (head_.empty())
    return {};
  return " (the body began with '" + head_ + "')";
}

std::string describe(const error_info& e) {
  auto kind = !e.type.empty() ? e.type : e.code;
  if (kind.empty())
    return e.message.empty() ? "(no message)" : e.message;
  return e.message.empty() ? kind : kind + ": " + e.message;
}

} // namespace troupe::providers::detail
