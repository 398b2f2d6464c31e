#include "mcp/detail/http_transport.hpp"

#include <cctype>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/envelope.hpp"
#include "core/providers/sse.hpp"

namespace troupe::mcp::detail {

namespace {

// Limits of a POST that carries a notification or a response (answered at
// once with 202), and of the DELETE at the end; a request's POST has none
// of its own: the core's deadline ends it through `abandon`.
constexpr uint64_t quick_total_ms = 30000;
constexpr uint64_t delete_total_ms = 2000;

bool starts_with(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && std::string_view{s}.substr(0, p.size()) == p;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// An HTTP error reply in a line: the JSON-RPC error it carries, if any,
// else the start of the body.
std::string describe_failure(int status, const std::string& body) {
  std::string out = "HTTP " + std::to_string(status);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object() && e->contains("message"))
      return out + ": error " + e->value("code", nlohmann::json(0)).dump() + ": "
             + escape_unprintable(e->value("message", std::string{}), 300);
  }
  if (!body.empty())
    out += ": " + escape_unprintable(body, 300);
  return out;
}

// The spec answers an unknown Mcp-Session-Id with 404; some servers (the
// reference server-everything's own HTTP wrapper among them) answer 400
// with a JSON-RPC error such as "Bad Request: No valid session ID
// provided". Both mean the session is gone.
bool names_session(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return false;
  auto message = j["error"].value("message", std::string{});
  return lower(message).find("session") != std::string::npos;
}

} // namespace

struct http_transport::exchange {
  uint64_t serial = 0;
  std::optional<uint64_t> request_id;
  bool stream = false;       // the GET for the server's own messages
  bool sent_session = false; // carried Mcp-Session-Id
  int status = 0;
  bool sse = false;
  bool too_long = false;
  std::string body;
  providers::sse_parser parser;
  std::vector<providers::sse_event> events;

  explicit exchange(size_t max) : parser(max) {}
};

http_transport::http_transport(std::string url, net::http_headers extra,
                               net::http_client& client, transport_sink& sink,
                               const session_options& opts)
  : url_(std::move(url)),
    extra_(std::move(extra)),
    client_(client),
    sink_(sink),
    prefix_("mcp server '" + opts.name + "': "),
    pool_("mcp:" + opts.name),
    max_message_(opts.max_message_bytes) {}

http_transport::~http_transport() {
  shutdown();
}

net::http_request http_transport::base_request(const char* method, bool stream) const {
  net::http_request req;
  req.method = method;
  req.url = url_;
  req.pool = pool_;
  req.headers = extra_;
  req.headers.emplace_back("Accept",
                           stream ? "text/event-stream" : "application/json, text/event-stream");
  if (!protocol_version_.empty())
    req.headers.emplace_back("MCP-Protocol-Version", protocol_version_);
  if (!session_id_.empty())
    req.headers.emplace_back("Mcp-Session-Id", session_id_);
  return req;
}

void http_transport::send(std::string message, std::optional<uint64_t> request_id) {
  auto x = std::make_shared<exchange>(max_message_);
  x->request_id = request_id;
  net::http_request req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_)
      return;
    req = base_request("POST", false);
    x->sent_session = !session_id_.empty();
  }
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(message);
  if (request_id) {
    // The core's deadline governs: it abandons the request when it passes.
    req.timeouts.first_byte_ms = 0;
    req.timeouts.idle_ms = 0;
    req.timeouts.total_ms = 0;
  } else {
    req.timeouts.first_byte_ms = quick_total_ms;
    req.timeouts.total_ms = quick_total_ms;
  }
  start(std::move(x), std::move(req));
}

void http_transport::initialized(const std::string& version) {
  net::http_request req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    protocol_version_ = version;
    if (shut_)
      return;
    req = base_request("GET", true);
  }
  req.timeouts.idle_ms = 0; // quiet for as long as the server has nothing to say
  req.timeouts.total_ms = 0;
  auto x = std::make_shared<exchange>(max_message_);
  x->stream = true;
  start(std::move(x), std::move(req));
}

void http_transport::start(std::shared_ptr<exchange> x, net::http_request req) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_)
      return;
    x->serial = next_serial_++;
    transfers_.emplace(x->serial, transfer{});
    if (x->request_id)
      by_request_[*x->request_id] = x->serial;
  }
  net::http_callbacks cb;
  cb.on_headers = [this, x](int status, const net::http_headers& h) {
    return on_headers(*x, status, h);
  };
  cb.on_data = [this, x](std::string_view chunk) { return on_data(*x, chunk); };
  cb.on_done = [this, x](net::http_outcome outcome) { on_done(*x, outcome); };
  auto handle = client_.submit(std::move(req), std::move(cb));
  bool cancel = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = transfers_.find(x->serial);
    if (it != transfers_.end()) { // else it has ended already
      it->second.handle = handle;
      cancel = it->second.cancel || shut_;
    }
  }
  if (cancel)
    client_.cancel(handle);
}

void http_transport::abandon(uint64_t id) {
  net::request_handle handle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = by_request_.find(id);
    if (r == by_request_.end())
      return;
    auto t = transfers_.find(r->second);
    if (t == transfers_.end())
      return;
    t->second.cancel = true;
    handle = t->second.handle;
  }
  if (handle)
    client_.cancel(handle);
}

void http_transport::shutdown() {
  std::vector<net::request_handle> handles;
  std::string sid;
  net::http_request del;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shut_) {
      shut_ = true;
      sid = session_id_;
      del = base_request("DELETE", false);
    }
    for (auto& [serial, t] : transfers_) {
      t.cancel = true;
      if (t.handle)
        handles.push_back(t.handle);
    }
  }
  for (auto h : handles)
    client_.cancel(h);
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return transfers_.empty(); });
  }
  if (!sid.empty()) {
    // Best effort, not awaited: the server forgets the session sooner.
    del.timeouts.first_byte_ms = delete_total_ms;
    del.timeouts.total_ms = delete_total_ms;
    client_.submit(std::move(del), {});
  }
}

// -- on the client's I/O thread -------------------------------------------------

net::http_action http_transport::on_headers(exchange& x, int status,
                                            const net::http_headers& headers) {
  x.status = status;
  if (const auto* ct = net::find_header(headers, "content-type"))
    x.sse = starts_with(lower(*ct), "text/event-stream");
  if (const auto* sid = net::find_header(headers, "mcp-session-id"); sid && !sid->empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (session_id_.empty())
      session_id_ = *sid;
  }
  if (x.stream && (status != 200 || !x.sse))
    return net::http_action::abort; // no stream for us here (405: none offered)
  return net::http_action::proceed;
}

net::http_action http_transport::on_data(exchange& x, std::string_view chunk) {
  if (x.sse && x.status / 100 == 2) {
    if (!x.parser.feed(chunk, x.events)) {
      x.too_long = true;
      return net::http_action::abort;
    }
    for (auto& e : x.events)
      deliver(e.data);
    x.events.clear();
    return net::http_action::proceed;
  }
  if (x.body.size() + chunk.size() > max_message_) {
    x.too_long = true;
    return net::http_action::abort;
  }
  x.body.append(chunk);
  return net::http_action::proceed;
}

void http_transport::on_done(exchange& x, const net::http_outcome& outcome) {
  finish_reply(x, outcome);
  forget(x);
}

void http_transport::finish_reply(exchange& x, const net::http_outcome& outcome) {
  auto fail = [&](mcp_errc code, std::string why, bool retryable) {
    if (x.request_id)
      sink_.on_request_failed(*x.request_id, code, std::move(why), retryable);
    else if (!x.stream)
      spdlog::warn("{}a notification or response we sent failed: {}", prefix_, why);
  };
  if (x.too_long) {
    sink_.on_oversized(std::max<uint64_t>(x.body.size(), max_message_));
    fail(mcp_errc::transport_failed,
         "the reply is longer than " + std::to_string(max_message_) + " bytes", false);
    return;
  }
  if (x.stream) {
    spdlog::debug("{}the server's event stream ended (HTTP {}, {})", prefix_, outcome.status,
                  outcome.ok() ? "closed" : outcome.message);
    if (x.sse && x.status == 200 && x.parser.finish(x.events))
      for (auto& e : x.events)
        deliver(e.data);
    return;
  }
  if (!outcome.ok()) {
    if (outcome.error == net::transport_error::canceled)
      return; // abandoned or shut down: the core has given up on it already
    fail(mcp_errc::transport_failed,
         "POST " + url_ + " failed (" + std::string{to_string(outcome.error)} + ": "
           + outcome.message + ")",
         true);
    return;
  }
  int status = outcome.status;
  if (x.sent_session && (status == 404 || (status == 400 && names_session(x.body)))) {
    sink_.on_gone(mcp_errc::session_expired,
                  "the server no longer knows our session (HTTP " + std::to_string(status)
                    + " to our Mcp-Session-Id): it expired; a new session must be opened");
    return;
  }
  if (status / 100 != 2) {
    fail(mcp_errc::transport_failed, describe_failure(status, x.body),
         status >= 500 || status == 429);
    return;
  }
  if (x.sse) {
    if (x.parser.finish(x.events))
      for (auto& e : x.events)
        deliver(e.data);
    fail(mcp_errc::transport_failed,
         "the server ended its event stream without a response (resuming a stream is not "
         "supported)",
         true);
    return;
  }
  if (!x.body.empty())
    deliver(x.body);
  if (!x.request_id)
    return; // 202 Accepted: what a notification or a response gets
  // Answered just now unless the reply did not carry the response.
  fail(mcp_errc::transport_failed,
       status == 202 ? "the server answered HTTP 202 Accepted, without a response"
                     : "the reply (HTTP " + std::to_string(status) + ") carried no response to it",
       false);
}

void http_transport::deliver(std::string_view data) {
  // An event without data (a priming event with only an id) carries nothing.
  if (data.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return;
  sink_.on_message(data);
}

void http_transport::forget(const exchange& x) {
  std::lock_guard<std::mutex> lock(mu_);
  transfers_.erase(x.serial);
  if (x.request_id) {
    auto r = by_request_.find(*x.request_id);
    if (r != by_request_.end() && r->second == x.serial)
      by_request_.erase(r);
  }
  // Under the lock: once `shutdown` sees no transfer it may destroy this
  // transport, condition variable included.
  idle_.notify_all();
}

} // namespace troupe::mcp::detail
