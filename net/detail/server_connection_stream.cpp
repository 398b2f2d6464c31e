// The SSE side of a connection (net/detail/server_connection.hpp): the
// response header, the batches the stream queued as HTTP chunks, the
// keepalive tick, the terminator; and the connection's part in shutdown.

#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/write.hpp>

#include "net/detail/server_connection.hpp"

namespace troupe::net::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view last_chunk = "0\r\n\r\n";

} // namespace

std::shared_ptr<sse_stream> connection::closed_stream() {
  auto s = sse_stream::make({}, 0);
  s->ended();
  return s;
}

std::shared_ptr<sse_stream> connection::open_stream(uint64_t request_no, header_list extra) {
  auto s = sse_stream::make(weak_from_this(), core_->opts.max_stream_queue_bytes);
  bool posted = core_->post(executor_, [self = shared_from_this(), request_no, s,
                                        extra = std::move(extra)]() mutable {
    self->on_open_stream(request_no, std::move(s), std::move(extra));
  });
  if (!posted)
    s->ended(); // the server has stopped
  return s;
}

void connection::on_open_stream(uint64_t request_no, std::shared_ptr<sse_stream> s,
                                header_list extra) {
  if (phase_ != phase::handling || request_no != request_no_)
    return s->ended(); // the connection closed meanwhile
  phase_ = phase::streaming;
  stream_ = std::move(s);
  core_->streams.fetch_add(1);
  stream_start_ = std::make_unique<stream_start>(build_stream_header(extra, ctx_.version));
  write_in_flight_ = true;
  arm_write_deadline();
  http::async_write_header(socket_, stream_start_->serializer,
                           [self = shared_from_this()](error_code ec, size_t) {
                             self->on_stream_header_written(ec);
                           });
  // The connection closes after the stream (its header says so): bytes the
  // client pipelined are dropped, and from now on a read only watches for
  // the client going away.
  buffer_.consume(buffer_.size());
  buffer_.shrink_to_fit();
  if (!discard_pending_)
    read_discard();
  arm_keepalive();
  if (core_->shutting_down.load())
    stream_->close();
}

void connection::on_stream_header_written(error_code ec) {
  write_in_flight_ = false;
  if (phase_ == phase::closed)
    return;
  disarm_write_deadline();
  if (ec)
    return close();
  stream_start_.reset();
  header_written_ = true;
  flush_stream();
}

void connection::flush_stream() {
  if (phase_ != phase::streaming || !header_written_ || write_in_flight_ || !stream_)
    return;
  bool close_asked = stream_->take(writing_);
  if (writing_.empty()) {
    if (close_asked)
      end_stream();
    return;
  }
  write_in_flight_ = true;
  arm_write_deadline();
  auto done = [self = shared_from_this()](error_code ec, size_t) { self->on_stream_written(ec); };
  if (ctx_.version >= 11)
    asio::async_write(socket_, http::make_chunk(asio::buffer(writing_)), std::move(done));
  else
    asio::async_write(socket_, asio::buffer(writing_), std::move(done)); // close-delimited
}

void connection::on_stream_written(error_code ec) {
  write_in_flight_ = false;
  if (phase_ == phase::closed)
    return;
  disarm_write_deadline();
  if (ec)
    return close();
  // Given back, not kept: an idle stream holds no batch buffer (thousands of
  // them wait between events), and one allocation per batch is small beside
  // its write.
  std::string{}.swap(writing_);
  stream_->wrote();
  flush_stream();
}

void connection::end_stream() {
  auto finish = [this] {
    if (keepalive_timer_)
      keepalive_timer_->cancel();
    core_->streams.fetch_sub(1);
    auto s = std::move(stream_);
    s->ended();
    linger(); // the disconnect watch read goes on as the drain
  };
  if (ctx_.version < 11)
    return finish();
  write_in_flight_ = true;
  arm_write_deadline();
  asio::async_write(socket_, asio::buffer(last_chunk.data(), last_chunk.size()),
                    [self = shared_from_this(), finish](error_code ec, size_t) {
                      self->write_in_flight_ = false;
                      if (self->phase_ == phase::closed)
                        return;
                      self->disarm_write_deadline();
                      if (ec)
                        return self->close();
                      finish();
                    });
}

void connection::arm_keepalive() {
  if (!keepalive_timer_)
    keepalive_timer_.emplace(executor_);
  keepalive_timer_->expires_after(core_->opts.sse_keepalive);
  keepalive_timer_->async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->phase_ != phase::streaming || !self->stream_)
      return;
    if (self->stream_->keepalive())
      self->flush_stream();
    self->arm_keepalive();
  });
}

void connection::on_shutdown() {
  switch (phase_) {
    case phase::awaiting:
      return close(); // idle keep-alive: nothing in flight
    case phase::streaming:
      if (stream_)
        stream_->close(); // queued events, then the terminator
      return flush_stream();
    default:
      return; // a request in progress finishes; its reply closes the connection
  }
}

} // namespace troupe::net::detail
