#include "actors/model_exchange.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/providers/http_failure.hpp"
#include "core/providers/wire.hpp"
#include "net/command_provider.hpp"
#include "net/http_client.hpp"

namespace troupe {

namespace {

using steady = std::chrono::steady_clock;

uint64_t micros_since(steady::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count());
}

/// An error body beyond this is cut: the detail shows 500 bytes anyway.
constexpr size_t max_error_body = 64 * 1024;

model_response transport_failure(const net::http_outcome& o) {
  model_response r;
  auto kind = model_failure::server_error;
  switch (o.error) {
    case net::transport_error::timeout:
      kind = model_failure::timeout;
      break;
    case net::transport_error::connection:
      kind = model_failure::connection;
      break;
    case net::transport_error::canceled:
      kind = model_failure::canceled;
      break;
    case net::transport_error::protocol:
      kind = model_failure::malformed;
      break;
    case net::transport_error::invalid:
      kind = model_failure::bad_request;
      break;
    default:
      break;
  }
  r.failure = std::string(to_string(kind));
  r.failure_detail = o.message;
  return r;
}

// The state one HTTP exchange shares with its callbacks (on the I/O thread).
struct http_exchange final : model_exchange,
                             std::enable_shared_from_this<http_exchange> {
  net::http_client* http = nullptr;
  net::request_handle handle;
  endpoint_config endpoint;
  std::string model;
  std::string api_key;
  std::unique_ptr<providers::reply_decoder> decoder;
  int status = 0;
  providers::header_list headers;
  std::string error_body;
  steady::time_point started = steady::now();
  std::atomic<uint64_t> first_token_us{0}; ///< written on the I/O thread
  exchange_done on_done;

  void cancel() override { http->cancel(handle); }
  bool answering() const override { return first_token_us.load() != 0; }

  bool success() const { return status >= 200 && status < 300; }

  model_response finish(const net::http_outcome& o) {
    model_response r;
    if (!o.ok())
      r = transport_failure(o);
    else if (success())
      r = decoder->finish();
    else
      r = providers::classify_http_failure(endpoint.provider, status, headers, error_body,
                                           api_key, std::chrono::system_clock::now());
    r.endpoint = endpoint.name;
    r.model = model;
    r.latency_us = o.total_us;
    r.first_token_us = first_token_us.load();
    r.cost_micro_usd = reply_cost_micro_usd(endpoint, r.tokens.input, r.tokens.output);
    return r;
  }
};

std::shared_ptr<model_exchange> start_http(model_transport& transport, const exchange_request& req,
                                           const model_call& call, exchange_delta on_delta,
                                           exchange_done on_done) {
  auto ex = std::make_shared<http_exchange>();
  ex->http = &transport.http();
  ex->endpoint = req.endpoint;
  ex->model = req.model;
  ex->api_key = req.api_key;
  ex->on_done = std::move(on_done);
  auto wire = providers::build_request(req.endpoint, req.model, call, req.api_key,
                                       req.endpoint.stream);
  // The decoder's callback runs on the I/O thread, like every callback here.
  std::weak_ptr<http_exchange> weak = ex;
  ex->decoder = providers::make_decoder(
    req.endpoint.provider, req.endpoint.stream, call,
    [weak, on_delta = std::move(on_delta)](std::string_view piece) {
      if (auto self = weak.lock(); self && self->first_token_us.load() == 0)
        self->first_token_us.store(std::max<uint64_t>(micros_since(self->started), 1));
      if (on_delta && !piece.empty())
        on_delta(piece);
    });
  net::http_request http_req;
  http_req.method = "POST";
  http_req.url = req.endpoint.base_url + wire.path;
  http_req.headers = std::move(wire.headers);
  http_req.body = std::move(wire.body);
  http_req.timeouts = {req.endpoint.timeouts.connect_ms, req.endpoint.timeouts.first_byte_ms,
                       req.endpoint.timeouts.idle_ms, req.endpoint.timeouts.total_ms};
  http_req.pool = req.endpoint.name;
  http_req.max_concurrency = req.endpoint.max_concurrency;
  net::http_callbacks cb;
  // The callbacks hold the exchange until on_done: the client drops them then.
  cb.on_headers = [ex](int status, const net::http_headers& headers) {
    ex->status = status;
    ex->headers = headers;
    return net::http_action::proceed;
  };
  cb.on_data = [ex](std::string_view chunk) {
    if (ex->success())
      ex->decoder->feed(chunk);
    else if (ex->error_body.size() < max_error_body)
      ex->error_body.append(chunk.substr(0, max_error_body - ex->error_body.size()));
    return net::http_action::proceed;
  };
  cb.on_done = [ex](net::http_outcome outcome) {
    auto done = std::move(ex->on_done);
    done(ex->finish(outcome));
  };
  ex->handle = transport.http().submit(std::move(http_req), std::move(cb));
  return ex;
}

struct command_exchange final : model_exchange {
  net::command_process process;
  void cancel() override { process.cancel(); }
  bool answering() const override { return false; } // hedged on total latency
};

std::shared_ptr<model_exchange> start_command(model_transport& transport,
                                              const exchange_request& req,
                                              const model_call& call, exchange_done on_done) {
  auto ex = std::make_shared<command_exchange>();
  transport.run_command(
    req.endpoint.name, req.endpoint.max_concurrency,
    [ex, endpoint = req.endpoint, model = req.model, call, on_done = std::move(on_done)](
      bool run) {
      model_response r;
      if (run) {
        auto routed = call;
        routed.model = model;
        r = net::run_command_model(endpoint, routed, ex->process).response;
      } else {
        r.failure = std::string(to_string(model_failure::canceled));
        r.failure_detail = "the gateway shut down before the command started";
        r.endpoint = endpoint.name;
      }
      r.model = model;
      on_done(std::move(r));
    });
  return ex;
}

} // namespace

model_transport::model_transport(std::unique_ptr<net::http_client> http)
  : http_(std::move(http)) {}

model_transport::~model_transport() {
  std::deque<std::function<void(bool)>> dropped;
  {
    std::unique_lock<std::mutex> guard(mtx_);
    stopping_ = true;
    for (auto& [name, lane] : lanes_)
      for (auto& job : lane.waiting)
        dropped.push_back(std::move(job));
    lanes_.clear();
  }
  for (auto& job : dropped)
    job(false);
  // Running commands were canceled by their gateways; wait for their threads.
  std::unique_lock<std::mutex> guard(mtx_);
  idle_.wait(guard, [this] { return threads_ == 0; });
  guard.unlock();
  http_.reset(); // cancels what is in flight and calls each on_done
}

void model_transport::run_command(const std::string& lane, uint32_t max,
                                  std::function<void(bool)> job) {
  bool queued = false;
  bool start_thread = false;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    if (!stopping_) {
      queued = true;
      auto& l = lanes_[lane];
      l.max = std::max<uint32_t>(max, 1);
      l.waiting.push_back(std::move(job));
      if (l.running < l.max) {
        ++l.running;
        ++threads_;
        start_thread = true;
      }
    }
  }
  if (!queued) // shutting down
    job(false);
  else if (start_thread)
    std::thread([this, lane] { drain(lane); }).detach();
}

// One lane thread: runs waiting jobs until none is left.
void model_transport::drain(const std::string& lane) {
  for (;;) {
    std::function<void(bool)> job;
    {
      std::lock_guard<std::mutex> guard(mtx_);
      auto i = lanes_.find(lane);
      if (i == lanes_.end() || i->second.waiting.empty()) {
        if (i != lanes_.end())
          --i->second.running;
        --threads_;
        idle_.notify_all();
        return;
      }
      job = std::move(i->second.waiting.front());
      i->second.waiting.pop_front();
    }
    try {
      job(true);
    } catch (const std::exception& e) {
      spdlog::error("command endpoint {}: request failed: {}", lane, e.what());
    }
  }
}

std::shared_ptr<model_exchange> start_exchange(model_transport& transport,
                                               const exchange_request& req,
                                               const model_call& call, exchange_delta on_delta,
                                               exchange_done on_done) {
  if (req.endpoint.provider == provider_kind::command)
    return start_command(transport, req, call, std::move(on_done));
  return start_http(transport, req, call, std::move(on_delta), std::move(on_done));
}

} // namespace troupe
