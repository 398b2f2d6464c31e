#pragma once
// The JSON-RPC side of a session, whatever the transport: ids, requests in
// flight with their deadlines (one timer thread), matching responses in any
// order, answering the server's requests, the server's notifications, what
// was tolerated (counters, rate-limited warnings), and the end of the
// session. Internal to mcp/.
//
// Every request ends exactly once, through its `reply_fn`, called without
// any lock held: with the response, or with `timeout`, `canceled`, `gone`,
// `failed` or `closed`. The first of these to happen wins; the others find
// the request gone and do nothing.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/mcp/mcp_wire.hpp"
#include "mcp/detail/transport.hpp"
#include "mcp/session.hpp"

namespace troupe::mcp::detail {

enum class reply_end : uint8_t {
  result,   ///< the server answered with a result
  error,    ///< the server answered with a JSON-RPC error
  timeout,  ///< no answer in time (notifications/cancelled sent)
  canceled, ///< cancel() (notifications/cancelled sent)
  gone,     ///< the server went away, or the HTTP session expired
  failed,   ///< the transport could not carry this one request
  closed,   ///< the session was closed
};

struct rpc_reply {
  reply_end end = reply_end::closed;
  nlohmann::json result; ///< `result`
  mcp_rpc_error error;   ///< `error`
  /// Not answered: why, as one line starting with "mcp server 'NAME': ".
  std::string why;
  mcp_errc code = mcp_errc::closed; ///< not answered: the error code
  bool retryable = false;           ///< not answered: may work if tried again
};

using reply_fn = std::function<void(rpc_reply)>;

class rpc_core final : public transport_sink {
public:
  rpc_core(std::string server, session_events events);
  ~rpc_core() override;

  /// Starts the timer thread; false when it cannot.
  [[nodiscard]] bool start();
  /// The transport to send through; set once, before any request.
  void attach(transport* t);

  /// Sends request `method` built by `build(id)`; `done` runs exactly once.
  /// `label` names it in errors ("tools/call 'echo'"). On a timeout, and
  /// on `cancel` when `notify_cancel`, the server gets
  /// notifications/cancelled. A session no longer alive runs `done` at
  /// once, on this thread.
  uint64_t request(std::string label, const std::function<nlohmann::json(uint64_t)>& build,
                   std::chrono::milliseconds timeout, reply_fn done, bool notify_cancel);
  /// `request`, waiting for the answer: the result, or an error
  /// (`server_error` for a JSON-RPC error; the code of the failure else).
  [[nodiscard]] caf::expected<nlohmann::json>
  request_sync(std::string label, const std::function<nlohmann::json(uint64_t)>& build,
               std::chrono::milliseconds timeout);
  void cancel(uint64_t id, const std::string& reason);
  void notify(const nlohmann::json& notification);

  /// The session is open: from now on `on_tools_changed` is delivered
  /// (earlier announcements are covered by the owner's first listing), and
  /// the end of the session is reported through `on_closed` (before, it is
  /// the error of opening).
  void set_ready();
  /// Fails every request with `closed`; later requests fail at once. No
  /// `on_closed`. Idempotent.
  void close(const std::string& why);
  /// Joins the timer thread (after `close`).
  void stop();

  [[nodiscard]] bool alive() const;
  [[nodiscard]] session_counters counters() const;
  /// "mcp server 'NAME': "
  [[nodiscard]] const std::string& prefix() const { return prefix_; }

  // -- transport_sink ----------------------------------------------------------
  void on_message(std::string_view text) override;
  void on_oversized(uint64_t bytes) override;
  void on_request_failed(uint64_t id, mcp_errc code, std::string why, bool retryable) override;
  void on_gone(mcp_errc code, std::string why) override;

private:
  struct pending {
    std::string label;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds timeout;
    reply_fn done;
    bool notify_cancel = false;
  };

  void on_response(mcp_incoming in);
  void on_notification(const mcp_incoming& in);
  void on_server_request(const mcp_incoming& in);
  void timer_loop();
  // Removes request `id`; its `done` (empty when it was not in flight).
  reply_fn take(uint64_t id, std::string* label = nullptr);
  void fail_all(reply_end end, mcp_errc code, const std::string& why, bool retryable);
  void warn_tolerated(uint64_t& counter, const char* what, const std::string& detail);
  void send_cancelled(uint64_t id, const std::string& reason);

  const std::string server_;
  const std::string prefix_;
  session_events events_;
  transport* transport_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  std::map<uint64_t, pending> pending_;
  uint64_t next_id_ = 1;
  bool dead_ = false;
  bool ready_ = false;
  bool stopping_ = false;
  bool summary_logged_ = false;
  std::string dead_why_;
  mcp_errc dead_code_ = mcp_errc::closed;
  bool dead_retryable_ = true;
  session_counters counters_;
  std::thread timer_;
};

} // namespace troupe::mcp::detail
