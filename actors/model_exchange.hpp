#pragma once
// One attempt at a model request on one endpoint: the request in the
// endpoint's wire format (core/providers/wire.hpp), sent through the shared
// HTTP client (net/http_client.hpp) and its reply decoded as it arrives; for
// `command` endpoints, the program run on a thread of its own
// (net/command_provider.hpp), at most the endpoint's max_concurrency at once.
//
// Not an actor. The gateway starts exchanges and hears each one's end through
// `on_done`, called exactly once on an I/O thread (or the command's thread):
// it must not block and should only post a message. `on_delta` is called on
// the same thread with each piece of streamed text. The reply's endpoint,
// model, latency, time to first token and cost are filled in here; a
// transport failure is classified (timeout, connection, canceled, malformed).

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/model_endpoint.hpp"
#include "core/model_provider.hpp"

namespace troupe {

namespace net {
class http_client;
}

/// What exchanges travel on: the HTTP client (its I/O thread) and the
/// threads of command requests, at most an endpoint's max_concurrency of
/// them per endpoint; the others wait in order. Destroying it cancels what
/// is in flight, calls every pending `on_done` and waits for the threads.
class model_transport {
public:
  explicit model_transport(std::unique_ptr<net::http_client> http);
  ~model_transport();
  model_transport(const model_transport&) = delete;
  model_transport& operator=(const model_transport&) = delete;

  net::http_client& http() { return *http_; }

  /// Runs `job` on a thread of `lane` when fewer than `max` of its jobs run.
  /// `job` gets whether it should still run (false at shutdown).
  void run_command(const std::string& lane, uint32_t max, std::function<void(bool)> job);

private:
  void drain(const std::string& lane);

  std::unique_ptr<net::http_client> http_;
  std::mutex mtx_;
  std::condition_variable idle_;
  bool stopping_ = false;
  size_t threads_ = 0;
  struct lane_state {
    uint32_t running = 0;
    uint32_t max = 1;
    std::deque<std::function<void(bool)>> waiting;
  };
  std::map<std::string, lane_state> lanes_;
};

struct exchange_request {
  endpoint_config endpoint;
  std::string model;
  std::string api_key; ///< empty: no authentication
};

using exchange_done = std::function<void(model_response)>;
using exchange_delta = std::function<void(std::string_view)>;

/// A started exchange; `cancel` from any thread aborts its transfer (the
/// connection is closed, the program killed) and `on_done` reports
/// `canceled`, unless the exchange had ended already.
class model_exchange {
public:
  virtual ~model_exchange() = default;
  virtual void cancel() = 0;
  /// Whether the reply has begun to arrive (its first delta); any thread.
  [[nodiscard]] virtual bool answering() const = 0;
};

/// Starts `call` on `req.endpoint`. Never calls `on_done` before returning.
[[nodiscard]] std::shared_ptr<model_exchange>
start_exchange(model_transport& transport, const exchange_request& req, const model_call& call,
               exchange_delta on_delta, exchange_done on_done);

} // namespace troupe
