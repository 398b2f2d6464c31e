#pragma once
// What every reply decoder shares: the reply being built, the caps, how a
// failure is recorded (once; the first one wins and the rest of the body is
// ignored), the exception boundary, and the tool call ids. Two skeletons
// derive from it: `framed_decoder` for SSE and NDJSON streams, and
// `body_decoder` for whole JSON bodies.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/providers/detail/wire_json.hpp"
#include "core/providers/http_failure.hpp"
#include "core/providers/wire.hpp"

namespace troupe::providers::detail {

/// A tool call while it is decoded.
struct call_parts {
  std::string id; ///< the server's; empty when it gave none
  std::string name;
  std::string args; ///< as received
};

class decoder_base : public reply_decoder {
protected:
  /// `label` opens every detail ("openai stream"); `turn` names assigned ids.
  decoder_base(std::string label, uint32_t turn, text_delta_fn on_text);

  /// Appends streamed text and reports it.
  void add_text(std::string_view piece);
  /// Something other than text arrived (a tool call): reported once as an
  /// empty piece if nothing came before it.
  void first_token();
  /// Counts tool argument bytes against max_reply_bytes.
  void count_reply_bytes(size_t n);

  /// Records a failure unless one is there already. `line` 0: no line.
  void malformed(uint64_t line, std::string_view what) noexcept;
  void failed(model_failure f, uint64_t line, const error_info& e) noexcept;
  [[nodiscard]] bool stopped() const { return !out_.failure.empty(); }

  /// Runs `f`; whatever it throws becomes a malformed reply at `line`.
  template <class F>
  void guarded(uint64_t line, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      malformed(line, e.what());
    } catch (...) {
      malformed(line, "unexpected error");
    }
  }

  /// Moves `calls` into the reply: ids assigned where the server gave none,
  /// "{}" for no arguments. A call without a name throws.
  void take_calls(std::vector<call_parts>& calls);

  /// A failed reply carries no half-decoded text or calls (its tokens stay:
  /// what the server counted was spent).
  void drop_partial_reply();

  /// Keeps the first bytes of the body, to show what a body that is not
  /// the expected format began with.
  void remember_head(std::string_view bytes);
  /// " (the body began with '...')", or "" when it was empty.
  [[nodiscard]] std::string began_with() const;

  std::string label_;
  uint32_t turn_;
  text_delta_fn on_text_;
  model_response out_;

private:
  bool first_token_ = false;
  size_t reply_bytes_ = 0;
  std::string head_;
};

/// "type: message" of an error object, for a detail.
[[nodiscard]] std::string describe(const error_info& e);

} // namespace troupe::providers::detail
