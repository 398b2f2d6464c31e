#include "core/providers/detail/framed_decoder.hpp"

namespace troupe::providers::detail {

void body_decoder::feed(std::string_view bytes) {
  if (stopped())
    return;
  guarded(0, [&] {
    remember_head(bytes);
    if (body_.size() + bytes.size() > max_body_bytes) {
      body_.clear();
      body_.shrink_to_fit();
      fail("the body is longer than " + std::to_string(max_body_bytes) + " bytes");
    }
    body_.append(bytes);
  });
}

model_response body_decoder::finish() {
  // Text reaches the display once, whole, after the body parsed.
  auto on_text = std::move(on_text_);
  on_text_ = nullptr;
  if (!stopped())
    guarded(0, [&] {
      if (body_.find_first_not_of(" \t\r\n") == std::string::npos)
        fail("empty body");
      auto j = parse(body_, "a JSON object" + began_with());
      if (!j.is_object())
        fail(std::string("expected a JSON object, got ") + type_name(j));
      error_info e;
      if (read_error_object(j, e)) {
        failed(classify_error(e, 0), 0, e);
        return;
      }
      decode(j);
    });
  body_.clear();
  if (stopped())
    drop_partial_reply();
  if (!stopped() && on_text && !out_.text.empty())
    guarded(0, [&] { on_text(out_.text); });
  return std::move(out_);
}

} // namespace troupe::providers::detail
