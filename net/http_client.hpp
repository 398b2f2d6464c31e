#pragma once
// troupe's asynchronous HTTP client: many requests in flight on one (or a
// few) I/O threads, on libcurl's multi interface. No thread ever blocks per
// request: a model route submits its request and hears back through
// callbacks.
//
// Threads. The client owns `io_threads` I/O threads (default 1). Each owns
// one libcurl multi handle with its connection cache, an epoll set and the
// easy handles of its transfers; nothing of libcurl is touched by any other
// thread. All requests of one pool (the `pool` key, an endpoint's name) run
// on the same I/O thread, chosen by a hash of the key, so a pool's limit and
// its kept-alive connections live in one place. `submit` and `cancel` only
// push onto that thread's queue and wake it (an eventfd in its epoll set).
//
// libcurl is driven through curl_multi_socket_action from epoll, not
// curl_multi_poll: see net/detail/multi_driver.hpp for why.
//
// Pools. At most `max_concurrency` transfers of a pool are in flight; the
// others wait in submission order. Connections are kept alive and reused by
// later requests to the same host (HTTP/1.1, one transfer per connection);
// at most `max_connections` stay open per I/O thread.
//
// Callbacks run on the pool's I/O thread and must not block: they hold up
// every transfer of that thread. For each submitted request, in order:
//   on_headers(status, headers)  at most once, when the final (non-1xx)
//                                response headers are complete;
//   on_data(chunk)               per piece of the body as it arrives (the
//                                chunk is only valid during the call);
//   on_done(outcome)             exactly once, last, also for a request
//                                canceled or failed before it started.
// `on_headers` and `on_data` return `proceed` or `abort`; `abort` stops the
// transfer (its connection is closed) and `on_done` reports `canceled`. A
// callback that throws is treated as `abort` (the message names the
// exception); an exception from `on_done` is logged and dropped. Callbacks
// may call `submit` and `cancel` (both only queue).
//
// Thread safety: `submit` and `cancel` may be called from any thread,
// including from callbacks. `cancel` takes effect when the I/O thread reads
// its queue: `on_headers`/`on_data` of that request may still run until
// then, `on_done` runs once with `canceled` (or with the outcome the
// transfer reached first). Destroying the client cancels every request
// queued or in flight, runs each one's `on_done`, and joins the I/O
// threads; a request submitted from a callback during that shutdown gets
// `on_done(canceled)` too. Do not destroy the client from one of its own
// callbacks, and do not call `submit`/`cancel` concurrently with the
// destructor from other threads.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "net/http_types.hpp"

namespace troupe::net {

namespace detail {
class io_loop;
} // namespace detail

enum class http_action : uint8_t { proceed, abort };

struct http_callbacks {
  /// Status and response headers (names lower-cased). Optional.
  std::function<http_action(int status, const http_headers& headers)> on_headers;
  /// One piece of the body. Optional (the body is then discarded).
  std::function<http_action(std::string_view chunk)> on_data;
  /// Exactly once, last. Optional.
  std::function<void(http_outcome outcome)> on_done;
};

/// Names one submitted request, for `cancel`. Default-constructed: none.
struct request_handle {
  uint64_t id = 0;   ///< unique per client, from 1
  uint32_t loop = 0; ///< the I/O thread of the request's pool

  explicit operator bool() const { return id != 0; }
};

struct http_client_config {
  /// I/O threads; pools are spread over them by a hash of their key.
  size_t io_threads = 1;
  /// Connections (in use and idle, kept alive) per I/O thread: libcurl
  /// closes the oldest idle one beyond this. Size it to the sum of the
  /// `max_concurrency` of the pools, or more connections than that are
  /// opened and closed again instead of reused.
  size_t max_connections = 1024;
  /// libcurl's receive buffer per transfer; the main part of a transfer's
  /// memory. libcurl accepts 1 KiB to 10 MiB.
  size_t receive_buffer_bytes = 16 * 1024;
};

class http_client {
public:
  /// Starts the I/O threads. Errors: `net_errc::start_failed` (libcurl
  /// could not be initialized, no epoll or eventfd, no thread), naming what.
  [[nodiscard]] static caf::expected<std::unique_ptr<http_client>>
  start(http_client_config cfg = {});

  /// Cancels everything queued or in flight, runs every pending `on_done`,
  /// joins the I/O threads.
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Queues `req`; it starts as soon as its pool has a free slot. Never
  /// blocks (beyond a short lock) and never calls a callback itself.
  request_handle submit(http_request req, http_callbacks cb);

  /// Aborts the request if it has not ended yet (a queued one never starts,
  /// a running one has its connection closed); its `on_done` reports
  /// `canceled`. A handle of an ended request is ignored.
  void cancel(request_handle h);

  /// Transfers in flight plus queued, over all I/O threads; for tests and
  /// `troupe models`. A snapshot: it may be stale when it returns.
  [[nodiscard]] size_t pending() const;

private:
  explicit http_client(http_client_config cfg);

  http_client_config cfg_;
  std::vector<std::unique_ptr<detail::io_loop>> loops_;
  std::atomic<uint64_t> next_id_{1};
};

} // namespace troupe::net
