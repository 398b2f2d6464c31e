#pragma once
// One Server-Sent Events response of the HTTP server (net/http_server.hpp),
// as its handler holds it: `responder::stream()` returns it, and it stays
// usable from any thread for as long as the handler keeps it.
//
// Order and bounds. Events go out in `send` order, batched: each `send`
// appends to the stream's queue and the connection's strand writes what has
// queued up as one HTTP chunk. The queue counts bytes not yet written,
// including the chunk being written; a `send` that would take it past
// `http_server_options::max_stream_queue_bytes` closes the stream instead
// (the client is too slow; memory stays bounded) and returns false. A chunk
// the client does not take within `write_timeout` closes it too.
//
// Ends. The stream closes when the handler calls `close()` (the queued
// events are written, then the chunked terminator, then the connection
// closes), when the client goes away (the server keeps a read pending on
// the socket, so a disconnect is seen while nothing is being written), when
// it is too slow, or when the server shuts down (`close()` then, with a
// grace period). `send` returns false from the moment `close()` is called or
// the stream ended otherwise; `closed()` says the same.
//
// `on_close(f)` runs `f` once, when the stream has ended for good (the
// terminator written, or the connection dropped): on an I/O thread (or on
// the thread of `http_server::shutdown` for streams still open after its
// grace period). Registered after the end, `f` runs at once on the caller's
// thread. Callbacks must not block; they may call anything here.
//
// Idle streams are exempt from the server's idle timeout; a `: keepalive`
// comment goes out at every `sse_keepalive` tick when nothing was queued
// since the tick before, so proxies keep the connection and dead peers are
// found by the write. Keepalives are not counted against the queue bound (a
// client that takes nothing at all meets the write timeout).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::net {

namespace detail {
class connection;
} // namespace detail

class sse_stream {
  struct passkey {
    explicit passkey() = default;
  };

public:
  /// Queues one event (net/detail/sse_format.hpp: empty `id`/`event` are
  /// left out; line breaks in `data` make several `data:` lines). False
  /// once the stream is closed or closing, or when this event overflowed
  /// the queue (the stream is then closed).
  bool send(std::string_view id, std::string_view event, std::string_view data);
  /// Queues a comment line (`: text`); the client ignores it. As `send`.
  bool comment(std::string_view text);
  /// Ends the response once everything queued is written. Idempotent.
  void close();
  /// `close()` was called, or the stream ended otherwise.
  [[nodiscard]] bool closed() const;
  /// See the contract above.
  void on_close(std::function<void()> f);
  /// Bytes queued and not yet written (a snapshot, for tests and metrics).
  [[nodiscard]] size_t queued_bytes() const;

  sse_stream(passkey, std::weak_ptr<detail::connection> conn, size_t max_queue_bytes);
  sse_stream(const sse_stream&) = delete;
  sse_stream& operator=(const sse_stream&) = delete;

private:
  friend class detail::connection;

  // -- the connection's side, on its strand --------------------------------
  static std::shared_ptr<sse_stream> make(std::weak_ptr<detail::connection> conn,
                                          size_t max_queue_bytes);
  /// Moves the queue into `out` (its bytes stay counted until `wrote`).
  /// Returns whether the handler asked to close.
  bool take(std::string& out);
  void wrote();
  /// Queues a keepalive comment unless anything was queued since the last
  /// call; returns whether it did.
  bool keepalive();
  /// The stream has ended: runs the `on_close` callbacks.
  void ended();

  template <class Append>
  bool enqueue(Append&& append);
  /// Asks the connection to write (or, on overflow, to drop the client).
  void notify(bool overflow);

  std::weak_ptr<detail::connection> conn_;
  const size_t max_queue_bytes_;
  mutable std::mutex mutex_;
  std::string queue_;
  size_t in_flight_ = 0;
  bool flush_posted_ = false;
  bool close_asked_ = false;
  bool ended_ = false;
  bool touched_ = false; ///< something queued since the last keepalive tick
  std::vector<std::function<void()>> on_close_;
};

} // namespace troupe::net
