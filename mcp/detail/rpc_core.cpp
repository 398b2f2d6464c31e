#include "mcp/detail/rpc_core.hpp"

#include <algorithm>
#include <future>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/envelope.hpp"

namespace troupe::mcp::detail {

using nlohmann::json;
using std::chrono::steady_clock;

namespace {

// What the server does wrong is warned about for the first few times, then
// only counted: a server printing a log line per request must not flood
// troupe's own log.
constexpr uint64_t warnings_per_kind = 3;

// Longer timeouts are read as this, so that a deadline never overflows.
constexpr std::chrono::milliseconds longest_timeout{std::chrono::hours(24 * 30)};

rpc_reply no_answer(reply_end end, mcp_errc code, std::string why, bool retryable) {
  rpc_reply r;
  r.end = end;
  r.code = code;
  r.why = std::move(why);
  r.retryable = retryable;
  return r;
}

} // namespace

rpc_core::rpc_core(std::string server, session_events events)
  : server_(std::move(server)),
    prefix_("mcp server '" + server_ + "': "),
    events_(std::move(events)) {}

rpc_core::~rpc_core() {
  close("session closed");
  stop();
}

bool rpc_core::start() {
  try {
    timer_ = std::thread([this] { timer_loop(); });
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

void rpc_core::attach(transport* t) {
  std::lock_guard<std::mutex> lock(mu_);
  transport_ = t;
}

uint64_t rpc_core::request(std::string label, const std::function<json(uint64_t)>& build,
                           std::chrono::milliseconds timeout, reply_fn done, bool notify_cancel) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t id = next_id_++;
  if (dead_ || !transport_) {
    auto r = no_answer(dead_code_ == mcp_errc::closed ? reply_end::closed : reply_end::gone,
                       dead_code_, prefix_ + label + ": " + dead_why_, dead_retryable_);
    lock.unlock();
    done(std::move(r));
    return id;
  }
  timeout = std::clamp(timeout, std::chrono::milliseconds{0}, longest_timeout);
  pending p{std::move(label), steady_clock::now() + timeout, timeout, std::move(done),
            notify_cancel};
  pending_.emplace(id, std::move(p));
  // Sent under the lock: a concurrent cancel's notification cannot overtake
  // the request itself (send only queues).
  transport_->send(mcp_serialize(build(id)), id);
  lock.unlock();
  timer_cv_.notify_one();
  return id;
}

caf::expected<json> rpc_core::request_sync(std::string label,
                                           const std::function<json(uint64_t)>& build,
                                           std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<rpc_reply>>();
  auto answer = promise->get_future();
  request(label, build, timeout,
          [promise](rpc_reply r) { promise->set_value(std::move(r)); }, true);
  rpc_reply r = answer.get(); // the timer guarantees an end
  if (r.end == reply_end::result)
    return std::move(r.result);
  if (r.end == reply_end::error)
    return caf::make_error(mcp_errc::server_error,
                           prefix_ + label + ": error " + std::to_string(r.error.code) + ": "
                             + escape_unprintable(r.error.message, 500));
  return caf::make_error(r.code, std::move(r.why));
}

void rpc_core::cancel(uint64_t id, const std::string& reason) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end())
    return;
  pending p = std::move(it->second);
  pending_.erase(it);
  if (p.notify_cancel)
    send_cancelled(id, reason);
  lock.unlock();
  p.done(no_answer(reply_end::canceled, mcp_errc::closed,
                   prefix_ + p.label + " canceled: " + reason, false));
}

void rpc_core::notify(const json& notification) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dead_ && transport_)
    transport_->send(mcp_serialize(notification), std::nullopt);
}

void rpc_core::set_ready() {
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = true;
}

void rpc_core::close(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dead_) {
      dead_ = true;
      dead_code_ = mcp_errc::closed;
      dead_why_ = why;
      dead_retryable_ = true;
    }
    if (!summary_logged_
        && (counters_.non_json_lines > warnings_per_kind
            || counters_.malformed_messages > warnings_per_kind))
      spdlog::info("{}skipped {} lines that were not JSON and {} malformed messages in all",
                   prefix_, counters_.non_json_lines, counters_.malformed_messages);
    summary_logged_ = true;
  }
  fail_all(reply_end::closed, mcp_errc::closed, why, true);
}

void rpc_core::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable())
    timer_.join();
}

bool rpc_core::alive() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !dead_;
}

session_counters rpc_core::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

// -- from the transport -----------------------------------------------------------

void rpc_core::on_message(std::string_view text) {
  mcp_incoming in = classify_mcp_message(text);
  switch (in.kind) {
    case mcp_incoming_kind::not_json:
      warn_tolerated(counters_.non_json_lines, "lines that are not JSON", in.reason);
      return;
    case mcp_incoming_kind::malformed:
      warn_tolerated(counters_.malformed_messages, "malformed messages", in.reason);
      return;
    case mcp_incoming_kind::response:
      on_response(std::move(in));
      return;
    case mcp_incoming_kind::notification:
      on_notification(in);
      return;
    case mcp_incoming_kind::request:
      on_server_request(in);
      return;
  }
}

void rpc_core::on_oversized(uint64_t bytes) {
  warn_tolerated(counters_.oversized_messages, "messages over the size limit",
                 "a message of " + std::to_string(bytes) + " bytes was dropped");
}

void rpc_core::on_request_failed(uint64_t id, mcp_errc code, std::string why, bool retryable) {
  std::string label;
  if (auto done = take(id, &label))
    done(no_answer(reply_end::failed, code, prefix_ + label + ": " + why, retryable));
}

void rpc_core::on_gone(mcp_errc code, std::string why) {
  bool opened = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_)
      return;
    dead_ = true;
    dead_code_ = code;
    dead_why_ = why;
    dead_retryable_ = true;
    opened = ready_;
  }
  fail_all(reply_end::gone, code, why, true);
  // A session still opening reports its end as the error of open_*.
  if (opened && events_.on_closed)
    events_.on_closed(prefix_ + why);
}

// -- messages -------------------------------------------------------------------

void rpc_core::on_response(mcp_incoming in) {
  auto id = mcp_our_id(in.id);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = id ? pending_.find(*id) : pending_.end();
  if (it == pending_.end()) {
    ++counters_.unmatched_responses;
    lock.unlock();
    // Late answers to requests that timed out or were canceled are normal;
    // an error without a usable id means the server could not read one of
    // our messages, which is not.
    if (in.error && !id)
      spdlog::warn("{}the server could not read one of our messages: error {}: {}", prefix_,
                   in.error->code, escape_unprintable(in.error->message, 300));
    else
      spdlog::debug("{}a response to request {}, which is no longer in flight", prefix_,
                    escape_unprintable(in.id.dump(), 40));
    return;
  }
  if (pending_.begin()->first < *id)
    ++counters_.out_of_order;
  reply_fn done = std::move(it->second.done);
  pending_.erase(it);
  lock.unlock();
  rpc_reply r;
  if (in.error) {
    r.end = reply_end::error;
    r.error = std::move(*in.error);
  } else {
    r.end = reply_end::result;
    r.result = std::move(in.result);
  }
  done(std::move(r));
}

void rpc_core::on_notification(const mcp_incoming& in) {
  bool tools_changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.notifications;
    tools_changed = in.method == "notifications/tools/list_changed" && ready_ && !dead_;
  }
  if (tools_changed) {
    if (events_.on_tools_changed)
      events_.on_tools_changed();
  } else if (in.method == "notifications/message") {
    spdlog::debug("{}log: {}", prefix_, escape_unprintable(mcp_serialize(in.params), 1000));
  }
  // Progress, resource and prompt notifications mean nothing to troupe.
}

void rpc_core::on_server_request(const mcp_incoming& in) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.server_requests;
  if (!dead_ && transport_)
    transport_->send(mcp_serialize(mcp_answer_server_request(in)), std::nullopt);
}

// -- deadlines ------------------------------------------------------------------

void rpc_core::timer_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto now = steady_clock::now();
    std::vector<std::pair<pending, uint64_t>> expired;
    auto earliest = steady_clock::time_point::max();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        expired.emplace_back(std::move(it->second), it->first);
        it = pending_.erase(it);
      } else {
        earliest = std::min(earliest, it->second.deadline);
        ++it;
      }
    }
    if (!expired.empty()) {
      for (auto& [p, id] : expired)
        send_cancelled(id, "timed out after " + std::to_string(p.timeout.count()) + " ms");
      lock.unlock();
      for (auto& [p, id] : expired)
        p.done(no_answer(reply_end::timeout, mcp_errc::timeout,
                         prefix_ + p.label + " timed out after "
                           + std::to_string(p.timeout.count()) + " ms",
                         true));
      lock.lock();
      continue;
    }
    if (earliest == steady_clock::time_point::max())
      timer_cv_.wait(lock);
    else
      timer_cv_.wait_until(lock, earliest);
  }
}

// -- helpers --------------------------------------------------------------------

reply_fn rpc_core::take(uint64_t id, std::string* label) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end())
    return {};
  reply_fn done = std::move(it->second.done);
  if (label)
    *label = std::move(it->second.label);
  pending_.erase(it);
  return done;
}

void rpc_core::fail_all(reply_end end, mcp_errc code, const std::string& why, bool retryable) {
  std::map<uint64_t, pending> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(pending_);
  }
  for (auto& [id, p] : failed)
    p.done(no_answer(end, code, prefix_ + p.label + ": " + why, retryable));
}

void rpc_core::warn_tolerated(uint64_t& counter, const char* what, const std::string& detail) {
  uint64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = ++counter;
  }
  if (n <= warnings_per_kind)
    spdlog::warn("{}skipped: {}", prefix_, detail);
  if (n == warnings_per_kind)
    spdlog::warn("{}further {} are counted, not logged", prefix_, what);
}

// Caller holds mu_.
void rpc_core::send_cancelled(uint64_t id, const std::string& reason) {
  if (!transport_)
    return;
  if (!dead_)
    transport_->send(mcp_serialize(mcp_cancelled_notification(id, reason)), std::nullopt);
  transport_->abandon(id);
}

} // namespace troupe::mcp::detail
