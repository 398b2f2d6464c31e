#include "tools/troupe/bench_gateway_server.hpp"

#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

namespace troupe::cli {

namespace {

using ms = std::chrono::milliseconds;

// One `data:` event around a chunk object, with the fields every chunk of
// the real API carries.
std::string event(const nlohmann::json& choices, const nlohmann::json& usage) {
  nlohmann::json chunk{{"id", "chatcmpl-bench0001"},
                       {"object", "chat.completion.chunk"},
                       {"created", 1735689600},
                       {"model", "bench-model"},
                       {"system_fingerprint", "fp_bench"},
                       {"choices", choices},
                       {"usage", usage}};
  return "data: " + chunk.dump() + "\n\n";
}

nlohmann::json choice(nlohmann::json delta, nlohmann::json finish_reason) {
  return nlohmann::json::array({{{"index", 0},
                                 {"delta", std::move(delta)},
                                 {"logprobs", nullptr},
                                 {"finish_reason", std::move(finish_reason)}}});
}

std::string role_event() {
  return event(choice({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr),
               nullptr);
}

std::string content_event(uint32_t i) {
  static constexpr const char* words[] = {" The", " answer", " is", " on", " its",
                                          " way", ",", " one", " token", " at",
                                          " a",   " time", "."};
  return event(choice({{"content", words[i % (sizeof words / sizeof *words)]}}, nullptr),
               nullptr);
}

std::string tail_events(uint32_t chunks) {
  nlohmann::json usage{{"prompt_tokens", 180},
                       {"completion_tokens", chunks},
                       {"total_tokens", 180 + chunks},
                       {"prompt_tokens_details", {{"cached_tokens", 0}}},
                       {"completion_tokens_details", {{"reasoning_tokens", 0}}}};
  return event(choice(nlohmann::json::object(), "stop"), nullptr)
         + event(nlohmann::json::array(), usage) + "data: [DONE]\n\n";
}

std::shared_ptr<const std::string> shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

} // namespace

bench_stream_server::bench_stream_server(stream_shape shape, size_t threads,
                                         uint64_t max_requests)
  : shape_(shape),
    max_requests_(max_requests),
    server_us_(new std::atomic<uint64_t>[max_requests]()),
    server_(threads) {
  if (shape_.chunk_gap_ms == 0) {
    std::string all = role_event();
    for (uint32_t i = 0; i < shape_.chunks; ++i)
      all += content_event(i);
    pieces_.push_back(shared(all + tail_events(shape_.chunks)));
  } else {
    pieces_.push_back(shared(role_event()));
    for (uint32_t i = 0; i < shape_.chunks; ++i)
      pieces_.push_back(shared(content_event(i)));
    pieces_.push_back(shared(tail_events(shape_.chunks)));
  }
  server_.on("/v1/chat/completions", [this](const test::received_request& req) {
    return plan_for(req);
  });
}

std::string bench_stream_server::base_url() const {
  return server_.url("/v1");
}

test::reply_plan bench_stream_server::plan_for(const test::received_request& req) {
  auto at = req.body.find(marker);
  uint64_t id = max_requests_;
  if (at != std::string::npos)
    id = std::strtoull(req.body.c_str() + at + std::string_view{marker}.size(), nullptr, 10);
  if (id >= max_requests_) {
    ++refused_;
    return test::plain_reply(400, R"({"error":{"message":"no bench request number",)"
                                  R"("type":"invalid_request_error"}})",
                             "application/json");
  }
  test::reply_plan p;
  p.headers = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
  for (size_t i = 0; i < pieces_.size(); ++i) {
    test::reply_chunk c;
    if (i == 0)
      c.delay = ms{shape_.first_chunk_ms};
    else if (i + 1 < pieces_.size())
      c.delay = ms{shape_.chunk_gap_ms};
    c.shared = pieces_[i];
    p.chunks.push_back(std::move(c));
  }
  p.on_end = [this, id](const test::reply_timing& t) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.ended - t.received);
    server_us_[id].store(std::max<uint64_t>(static_cast<uint64_t>(us.count()), 1));
  };
  return p;
}

uint64_t bench_stream_server::server_us(uint64_t id) const {
  return id < max_requests_ ? server_us_[id].load() : 0;
}

bool bench_stream_server::wait_for_replies(uint64_t n, std::chrono::milliseconds timeout) const {
  return server_.wait_until(
    [n](const test::server_stats& s) { return s.requests - s.in_flight >= n; }, timeout);
}

bool bench_stream_server::wait_for_no_connections(std::chrono::milliseconds timeout) const {
  return server_.wait_until(
    [](const test::server_stats& s) { return s.client_closes >= s.accepted; }, timeout);
}

} // namespace troupe::cli
