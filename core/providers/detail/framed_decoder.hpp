#pragma once
// The skeletons of the two kinds of decoder. A framed decoder runs the body
// through its framing (SSE events or NDJSON lines) and hands each record to
// the provider's `on_record`; `on_end` then checks the stream's terminator
// and assembles the reply. A body decoder buffers the whole body (capped)
// and hands the parsed object to the provider's `decode`.

#include <string>
#include <string_view>
#include <vector>

#include "core/providers/detail/decoder_base.hpp"

namespace troupe::providers::detail {

template <class Parser, class Record>
class framed_decoder : public decoder_base {
public:
  using decoder_base::decoder_base;

  void feed(std::string_view bytes) override {
    if (stopped() || ended_)
      return;
    guarded(0, [&] {
      remember_head(bytes);
      records_.clear();
      bool ok = parser_.feed(bytes, records_);
      deliver();
      if (!ok)
        malformed(0, parser_.error());
    });
  }

  model_response finish() override {
    if (!stopped() && !ended_)
      guarded(0, [&] {
        records_.clear();
        bool ok = parser_.finish(records_);
        deliver();
        if (!ok)
          malformed(0, parser_.error());
      });
    if (!stopped())
      guarded(0, [&] { on_end(); });
    if (stopped())
      drop_partial_reply();
    return std::move(out_);
  }

protected:
  /// One event or line; throws wire_error for what does not fit the format.
  virtual void on_record(const Record& r) = 0;
  /// The body ended without failure so far: terminator seen? Assemble.
  virtual void on_end() = 0;

  /// Lines of the body so far, for "ended after line N".
  [[nodiscard]] uint64_t lines() const { return parser_.lines(); }

  /// Set by the provider at its terminator: the rest of the body is ignored.
  bool ended_ = false;

private:
  void deliver() {
    for (auto& r : records_) {
      if (stopped() || ended_)
        break;
      guarded(r.line, [&] { on_record(r); });
    }
  }

  Parser parser_;
  std::vector<Record> records_;
};

class body_decoder : public decoder_base {
public:
  using decoder_base::decoder_base;

  void feed(std::string_view bytes) override;
  model_response finish() override;

protected:
  /// The body, a JSON object holding no error object.
  virtual void decode(const json& body) = 0;

private:
  std::string body_;
};

} // namespace troupe::providers::detail
