#pragma once
// The model gateway driven as an actor against the real loopback model
// server (test/peers/model_server.py): a fixture with an actor system on
// real threads, one shared endpoint pool (its own HTTP client), and helpers
// to build endpoints, routes and calls, to ask a gateway (blocking or from a
// thread, so a test can cancel meanwhile) and to wait for streamed text.
// Retries back off 20-60 ms here instead of 0.5-1.5 s; a server's
// Retry-After is honoured as in production.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/endpoint_pool.hpp"
#include "actors/messages.hpp"
#include "actors/model_gateway.hpp"
#include "actors/run.hpp"
#include "schemas/errors.hpp"
#include "test/support/model_server.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// An OpenAI-compatible endpoint on `server`, streaming unless told, with
/// timeouts short enough that a broken test ends in seconds.
inline endpoint_config openai_endpoint(const std::string& name, const model_server& server,
                                       bool stream = true) {
  endpoint_config e;
  e.name = name;
  e.provider = provider_kind::openai;
  e.base_url = server.url("/v1");
  e.stream = stream;
  e.timeouts = {2000, 10000, 10000, 30000};
  return e;
}

/// A route over "endpoint:model" targets.
inline model_config route_of(const std::vector<std::string>& targets,
                             const std::string& strategy = "fallback") {
  model_config m;
  m.name = "m";
  m.provider = "route";
  m.strategy = strategy;
  for (auto& t : targets) {
    auto colon = t.find(':');
    m.route.push_back({t.substr(0, colon), t.substr(colon + 1)});
  }
  return m;
}

inline model_call call_of(const std::string& run_id, const std::string& task,
                          std::vector<tool_spec> tools = {}) {
  model_call c;
  c.run_id = run_id;
  c.agent = "lead";
  c.model = "m";
  c.turn = 1;
  c.messages = {{chat_role::system, "You are a test agent.", {}, {}, false},
                {chat_role::user, task, {}, {}, false}};
  c.tools = std::move(tools);
  return c;
}

/// One OpenAI stream event carrying `text` as a content delta, verbatim.
inline std::string openai_delta_event(const std::string& text) {
  json chunk{{"id", "chatcmpl-raw"},
             {"object", "chat.completion.chunk"},
             {"created", 1700000000},
             {"model", "m"},
             {"choices",
              {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}};
  return "data: " + chunk.dump() + "\n\n";
}

/// A step that sends one content delta ("Hel") and then hangs until the
/// client closes the connection: a request stalled at the server mid-stream.
inline json stalled_stream_step() {
  auto first = openai_delta_event("Hel");
  return {{"raw", {first, openai_delta_event("lo"), "data: [DONE]\n\n"}},
          {"stall_after_bytes", first.size()}};
}

/// Streamed text as it arrives (on the HTTP client's thread), waited for.
class text_latch {
public:
  void add(std::string_view text) {
    std::lock_guard<std::mutex> guard(mtx_);
    text_.append(text);
    cv_.notify_all();
  }
  /// Whether `needle` arrived within `timeout`.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> guard(mtx_);
    return cv_.wait_for(guard, timeout,
                        [&] { return text_.find(needle) != std::string::npos; });
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::string text_;
};

/// The model server's log lines of chat requests (a `troupe` process also
/// checks its endpoints' model listings: GETs, logged too).
inline std::vector<json> chat_requests(const model_server& server) {
  std::vector<json> out;
  for (auto& r : server.requests())
    if (r.value("method", "") == "POST")
      out.push_back(r);
  return out;
}

/// Waits until `n` chat requests are logged (or `timeout` passes).
inline std::vector<json> wait_for_chat_requests(const model_server& server, size_t n,
                                                std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto got = chat_requests(server);
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    got = chat_requests(server);
  }
  return got;
}

/// The chat requests for `model`.
inline std::vector<json> requests_for(const model_server& server, const std::string& model) {
  std::vector<json> out;
  for (auto& r : chat_requests(server))
    if (r["model"] == model)
      out.push_back(r);
  return out;
}

/// Waits until the log holds a request for `model` that ended `ended`.
inline bool wait_for_ended(const model_server& server, const std::string& model,
                           const std::string& ended, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto& r : requests_for(server, model))
      if (r.value("ended", "") == ended)
        return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
}

/// "endpoint:model" of the candidate an attempt chose, or "-".
inline std::string chosen_key(const route_attempt& a) {
  if (a.chosen < 0 || static_cast<size_t>(a.chosen) >= a.candidates.size())
    return "-";
  auto& c = a.candidates[static_cast<size_t>(a.chosen)];
  return c.endpoint + ":" + c.model;
}

/// "outcome@endpoint:model" per attempt, for one-line checks and messages.
inline std::string outcomes(const model_response& r) {
  std::string s;
  for (auto& a : r.attempts)
    s += (s.empty() ? "" : " ") + a.outcome + "@" + chosen_key(a) + (a.hedge ? "(hedge)" : "");
  return s;
}

struct gateway_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  temp_dir dir{"troupe-gateway"};
  std::shared_ptr<endpoint_pool> pool;
  std::vector<caf::actor> gateways;

  gateway_fixture() {
    auto started = endpoint_pool::start();
    BOOST_REQUIRE_MESSAGE(started, (started ? "" : render(started.error())));
    pool = std::move(*started);
  }

  ~gateway_fixture() {
    // The gateways cancel their transfers when they go; the pool (its HTTP
    // client) must outlive them, and the actor system must not wait on them.
    for (auto& gw : gateways)
      caf::anon_send_exit(gw, caf::exit_reason::user_shutdown);
    gateways.clear();
    sys.await_all_actors_done();
    pool.reset();
  }

  /// A gateway of `route` over `endpoints`, with short retry backoffs.
  caf::actor spawn(model_config route, const std::vector<endpoint_config>& endpoints,
                   model_delta_sink on_delta = nullptr, hedge_config hedge = {}) {
    gateway_config gw;
    gw.route = std::move(route);
    for (auto& e : endpoints)
      gw.endpoints.emplace(e.name, e);
    gw.pool = pool;
    gw.on_delta = std::move(on_delta);
    gw.retries.base_delay_us = 20'000;
    gw.retries.max_delay_us = 200'000;
    gw.hedge = hedge;
    return spawn(std::move(gw));
  }

  caf::actor spawn(gateway_config gw) {
    gw.pool = pool;
    auto a = spawn_model_gateway(sys, std::move(gw));
    gateways.push_back(a);
    return a;
  }

  /// Asks and waits. Thread-safe (no Boost.Test assertion inside): an error
  /// message comes back as failure "error: ...".
  model_response ask(const caf::actor& gw, model_call call,
                     std::chrono::milliseconds timeout = 30s) {
    model_response out;
    caf::scoped_actor self{sys};
    self->request(gw, timeout, complete_atom::value, std::move(call))
      .receive([&](model_response& r) { out = std::move(r); },
               [&](caf::error& err) { out.failure = "error: " + sys.render(err); });
    return out;
  }

  /// Asks from a thread of its own: the test may cancel meanwhile.
  std::future<model_response> ask_async(const caf::actor& gw, model_call call) {
    return std::async(std::launch::async,
                      [this, gw, call = std::move(call)]() mutable {
                        return ask(gw, std::move(call));
                      });
  }

  /// Waits until `key`'s breaker admits requests again (its cool-down over).
  bool wait_until_admitted(const std::string& key, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pool->admits(key, system_clock_us())) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  /// The breaker state of `key` by name ("closed" when never used).
  std::string breaker_of(const std::string& key) {
    auto h = pool->health();
    auto i = h.find(key);
    return std::string(to_string(i == h.end() ? breaker_state::closed : i->second.breaker.state));
  }
};

} // namespace troupe::test
