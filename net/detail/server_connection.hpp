#pragma once
// One accepted connection of the HTTP server (net/http_server.hpp has the
// contract): reads requests with Beast's parser under the size limits and
// timeouts, hands each to the handler, writes its reply or runs its SSE
// stream, and closes. Everything but the `post_*`/`open_stream` members
// and `close_after_stop` runs on the connection's strand.
//
// Phases (one request at a time):
//
//   awaiting ──first byte──▶ header ──▶ body ──▶ handling ──reply──▶ writing
//      ▲                                              │                 │
//      └────────────── keep-alive ────────────────────┼─────────────────┘
//                                                     └──stream──▶ streaming
//   any refusal (4xx/5xx of the server's own), a reply with Connection:
//   close, the end of a stream ──▶ lingering ──▶ closed
//
// `lingering` half-closes the socket (our FIN follows the reply) and drains
// what the client still sends, for a short time and up to a byte cap, so a
// client that is still uploading reads our reply instead of a reset.
//
// The connection is kept alive by its pending operations (each handler holds
// a shared_ptr) and, while the handler holds a request, by its responder.
// Timers: `read_timer_` holds the deadline of the phase (awaiting, header,
// body, lingering), `write_timer_` the one of the write in flight,
// `keepalive_timer_` the SSE keepalive tick. A deadline is armed with a
// generation number, so a timer that fired just before being re-armed is
// ignored.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/request_checks.hpp"
#include "net/detail/response_build.hpp"
#include "net/detail/server_core.hpp"

namespace troupe::net::detail {

class connection : public std::enable_shared_from_this<connection> {
public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  /// `overloaded`: answer 503 overloaded at once and close.
  connection(std::shared_ptr<server_core> core, tcp::socket socket, uint64_t id,
             bool overloaded);
  ~connection();

  /// Registers with the core and starts reading (posts to the strand).
  void start();

  // -- any thread -----------------------------------------------------------
  void post_reply(uint64_t request_no, server_response r);
  /// A new stream for request `request_no`; it opens on the strand.
  std::shared_ptr<sse_stream> open_stream(uint64_t request_no, header_list extra);
  void post_stream_flush();
  void post_stream_overflow();
  void post_shutdown();
  /// After the I/O threads have ended (shutdown): closes on the calling thread.
  void close_after_stop();

  /// A stream that is closed already (for a responder used twice).
  static std::shared_ptr<sse_stream> closed_stream();

private:
  enum class phase : uint8_t {
    awaiting, header, body, handling, writing, streaming, lingering, closed
  };
  using clock = std::chrono::steady_clock;

  // -- reading a request (server_connection.cpp) ----------------------------
  void await_request();
  void begin_request();
  void read_more();
  void on_read(error_code ec, size_t n);
  void parse();
  bool check_header();
  void write_continue();
  void dispatch_request();
  void refuse(refusal r);

  // -- replies, ends, deadlines (server_connection.cpp) ---------------------
  void on_reply(uint64_t request_no, server_response r);
  void write_reply(server_response r);
  void on_reply_written(error_code ec);
  void linger();
  void read_discard();
  void close();
  void arm_read_deadline(clock::duration after);
  void disarm_read_deadline();
  void arm_write_deadline();
  void disarm_write_deadline();
  void on_read_deadline();

  // -- SSE (server_connection_stream.cpp) -----------------------------------
  void on_open_stream(uint64_t request_no, std::shared_ptr<sse_stream> s, header_list extra);
  void on_stream_header_written(error_code ec);
  void flush_stream();
  void on_stream_written(error_code ec);
  void end_stream();
  void arm_keepalive();
  void on_shutdown();

  std::shared_ptr<server_core> core_;
  const boost::asio::any_io_executor executor_; ///< the connection's strand
  tcp::socket socket_;
  const uint64_t id_;
  const bool overloaded_;
  std::string remote_;
  phase phase_ = phase::awaiting;

  boost::asio::steady_timer read_timer_;
  boost::asio::steady_timer write_timer_;
  uint64_t read_gen_ = 0;
  uint64_t write_gen_ = 0;

  // The request being read, then answered.
  boost::beast::flat_buffer buffer_;
  // Heap-held, and only while in use: an idle or streaming connection
  // carries none of the parser, the reply or the stream's header.
  std::unique_ptr<request_parser> parser_;
  bool first_request_ = true;
  bool continue_pending_ = false; ///< send 100 Continue before reading the body
  std::optional<request_target> target_; ///< decoded once the header is read
  uint64_t request_no_ = 0;
  reply_context ctx_;
  std::unique_ptr<reply_message> reply_;

  // Draining (lingering) and the SSE disconnect watch share one wait for
  // readability, then read into a stack buffer: no buffer while waiting.
  bool discard_pending_ = false;
  size_t drained_ = 0;

  // The SSE stream, once the handler opened one.
  std::shared_ptr<sse_stream> stream_;
  struct stream_start {
    explicit stream_start(stream_header h) : header(std::move(h)), serializer(header) {}
    stream_header header;
    boost::beast::http::response_serializer<boost::beast::http::empty_body> serializer;
  };
  std::unique_ptr<stream_start> stream_start_; ///< until the header is written
  std::optional<boost::asio::steady_timer> keepalive_timer_;
  std::string writing_;
  bool header_written_ = false;
  bool write_in_flight_ = false;
};

} // namespace troupe::net::detail
