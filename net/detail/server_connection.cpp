#include "net/detail/server_connection.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

namespace troupe::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr size_t read_chunk = 8 * 1024;
// How long a closing connection drains what the client still sends, and how
// much: enough for a client to see our reply and stop (libcurl may have put a
// few MiB of an upload into the loopback's socket buffers before it reads a
// 413), bounded for one that does not. Draining costs reads, no memory.
constexpr std::chrono::milliseconds max_linger{2000};
constexpr size_t max_drain_bytes = 8 << 20;
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

std::string peer_text(const boost::asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec)
    return "unknown";
  auto addr = ep.address().to_string();
  if (ep.address().is_v6())
    addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

} // namespace

connection::connection(std::shared_ptr<server_core> core, tcp::socket socket, uint64_t id,
                       bool overloaded)
  : core_(std::move(core)), executor_(socket.get_executor()), socket_(std::move(socket)),
    id_(id), overloaded_(overloaded), read_timer_(executor_), write_timer_(executor_) {
  remote_ = peer_text(socket_);
}

connection::~connection() {
  if (phase_ == phase::closed)
    return;
  // Dropped without closing: its work was refused after shutdown.
  if (stream_) {
    core_->streams.fetch_sub(1);
    stream_->ended();
  }
  core_->remove(id_);
}

void connection::start() {
  core_->add(id_, weak_from_this());
  core_->post(executor_, [self = shared_from_this()] {
    if (self->phase_ == phase::closed)
      return; // shutdown came first
    error_code ignored;
    self->socket_.set_option(tcp::no_delay(true), ignored);
    self->socket_.non_blocking(true, ignored); // read_discard's reads must not block
    if (self->overloaded_)
      return self->refuse({503, "overloaded", "Server overloaded",
                           "the server has " + std::to_string(self->core_->opts.max_connections)
                             + " connections open; retry later"});
    self->await_request();
  });
}

// -- reading a request --------------------------------------------------------

void connection::await_request() {
  if (core_->shutting_down.load())
    return linger(); // shutdown came while the last reply was being written
  phase_ = phase::awaiting;
  arm_read_deadline(first_request_ ? core_->opts.header_timeout : core_->opts.idle_timeout);
  if (buffer_.size() > 0)
    return begin_request(); // pipelined: the next request is here already
  buffer_.shrink_to_fit();  // an idle connection holds no buffer
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (self->phase_ != phase::awaiting)
      return;
    if (ec)
      return self->close();
    self->begin_request();
  });
}

void connection::begin_request() {
  phase_ = phase::header;
  arm_read_deadline(core_->opts.header_timeout); // from the first byte, not renewed
  ctx_ = reply_context{};
  target_.reset();
  parser_ = std::make_unique<http::request_parser<http::string_body>>();
  parser_->header_limit(static_cast<uint32_t>(
    std::min<size_t>(core_->opts.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(core_->opts.max_body_bytes);
  parse();
}

void connection::read_more() {
  socket_.async_read_some(buffer_.prepare(read_chunk),
                          [self = shared_from_this()](error_code ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

void connection::on_read(error_code ec, size_t n) {
  if (phase_ == phase::closed)
    return;
  if (ec)
    return close(); // the client went away mid-request: nobody to answer
  buffer_.commit(n);
  parse();
}

void connection::parse() {
  for (;;) {
    if (parser_->is_done())
      return dispatch_request();
    if (buffer_.size() == 0)
      return read_more();
    error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more)
      return read_more();
    if (ec)
      return refuse(refusal_for(ec, core_->opts));
    if (phase_ == phase::header && parser_->is_header_done()) {
      if (!check_header())
        return;
      phase_ = phase::body;
      arm_read_deadline(core_->opts.body_timeout);
      if (continue_pending_ && !parser_->is_done() && buffer_.size() == 0)
        return write_continue();
    }
    if (used == 0 && !parser_->is_done())
      return read_more();
  }
}

bool connection::check_header() {
  ctx_.version = parser_->get().version() >= 11 ? 11 : 10;
  auto verdict = detail::check_header(*parser_);
  if (verdict.refused) {
    refuse(std::move(*verdict.refused));
    return false;
  }
  continue_pending_ = verdict.send_continue;
  target_ = std::move(verdict.target);
  return true;
}

void connection::write_continue() {
  continue_pending_ = false;
  arm_write_deadline();
  asio::async_write(socket_, asio::buffer(continue_line.data(), continue_line.size()),
                    [self = shared_from_this()](error_code ec, size_t) {
                      if (self->phase_ == phase::closed)
                        return;
                      self->disarm_write_deadline();
                      if (ec)
                        return self->close();
                      self->parse();
                    });
}

void connection::dispatch_request() {
  disarm_read_deadline();
  phase_ = phase::handling;
  first_request_ = false;
  auto msg = parser_->release();
  parser_.reset();
  ctx_.head = msg.method() == http::verb::head;
  ctx_.keep_alive = msg.keep_alive();

  server_request req;
  req.method = std::string{msg.method_string()};
  req.target = std::string{msg.target()};
  req.path = std::move(target_->path);
  req.query = std::move(target_->query);
  target_.reset();
  req.version = ctx_.version;
  for (const auto& f : msg) {
    std::string name{f.name_string()};
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    req.headers.emplace_back(std::move(name), std::string{f.value()});
  }
  req.body = std::move(msg.body());
  req.remote = remote_;
  core_->requests.fetch_add(1);

  responder r{shared_from_this(), ++request_no_};
  try {
    core_->handler(std::move(req), std::move(r)); // an unused responder answers 500
  } catch (const std::exception& e) {
    spdlog::warn("http server: the handler threw on {} {}: {}", sv(msg.method_string()),
                 sv(msg.target()), e.what());
  } catch (...) {
    spdlog::warn("http server: the handler threw on {} {}", sv(msg.method_string()),
                 sv(msg.target()));
  }
}

void connection::refuse(refusal r) {
  core_->rejected.fetch_add(1);
  disarm_read_deadline();
  parser_.reset();
  ctx_.keep_alive = false;
  ctx_.head = false;
  write_reply(problem(r.status, r.slug, r.title, std::move(r.detail)));
}

// -- replies, ends, deadlines ---------------------------------------------------

void connection::on_reply(uint64_t request_no, server_response r) {
  if (phase_ != phase::handling || request_no != request_no_)
    return; // closed meanwhile, or a second answer
  write_reply(std::move(r));
}

void connection::write_reply(server_response r) {
  if (core_->shutting_down.load())
    ctx_.keep_alive = false;
  reply_ = std::make_unique<reply_message>(build_reply(std::move(r), ctx_));
  phase_ = phase::writing;
  arm_write_deadline();
  http::async_write(socket_, *reply_, [self = shared_from_this()](error_code ec, size_t) {
    self->on_reply_written(ec);
  });
}

void connection::on_reply_written(error_code ec) {
  if (phase_ == phase::closed)
    return;
  disarm_write_deadline();
  reply_.reset();
  if (ec)
    return close();
  if (!ctx_.keep_alive)
    return linger();
  await_request();
}

void connection::linger() {
  phase_ = phase::lingering;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec); // our FIN follows the reply
  if (ec)
    return close();
  drained_ = buffer_.size();
  buffer_.consume(buffer_.size());
  buffer_.shrink_to_fit();
  arm_read_deadline(std::min<clock::duration>(core_->opts.header_timeout, max_linger));
  if (!discard_pending_)
    read_discard();
}

// The one read of a connection that is streaming or lingering: what arrives
// is dropped; an end or error means the client is gone. The socket is
// non-blocking (start), so a spurious wakeup reads nothing and waits again.
void connection::read_discard() {
  discard_pending_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    self->discard_pending_ = false;
    if (self->phase_ == phase::closed)
      return;
    if (ec)
      return self->close();
    std::array<char, 16 * 1024> scratch;
    error_code read_ec;
    size_t n = self->socket_.read_some(asio::buffer(scratch), read_ec);
    if (read_ec && read_ec != asio::error::would_block && read_ec != asio::error::try_again)
      return self->close(); // EOF: the client has what we sent and is gone; or a reset
    self->drained_ += n;
    if (self->phase_ == phase::lingering && self->drained_ > max_drain_bytes)
      return self->close();
    self->read_discard();
  });
}

void connection::close() {
  if (phase_ == phase::closed)
    return;
  phase_ = phase::closed;
  disarm_read_deadline();
  disarm_write_deadline();
  if (keepalive_timer_)
    keepalive_timer_->cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // Buffers a cancelled write may still name are freed with the connection.
  if (auto s = std::move(stream_)) {
    core_->streams.fetch_sub(1);
    s->ended();
  }
  core_->remove(id_);
}

void connection::arm_read_deadline(clock::duration after) {
  read_timer_.expires_after(after);
  read_timer_.async_wait([self = shared_from_this(), gen = ++read_gen_](error_code ec) {
    if (ec || gen != self->read_gen_ || self->phase_ == phase::closed)
      return;
    self->on_read_deadline();
  });
}

void connection::disarm_read_deadline() {
  ++read_gen_;
  read_timer_.cancel();
}

void connection::arm_write_deadline() {
  write_timer_.expires_after(core_->opts.write_timeout);
  write_timer_.async_wait([self = shared_from_this(), gen = ++write_gen_](error_code ec) {
    if (ec || gen != self->write_gen_ || self->phase_ == phase::closed)
      return;
    self->core_->timed_out.fetch_add(1);
    self->close();
  });
}

void connection::disarm_write_deadline() {
  ++write_gen_;
  write_timer_.cancel();
}

void connection::on_read_deadline() {
  // awaiting: idle keep-alive (or a new connection that never spoke);
  // lingering: the client did not close after our reply. Neither is a timeout
  // of a request.
  if (phase_ == phase::header || phase_ == phase::body)
    core_->timed_out.fetch_add(1);
  close();
}

// -- any thread -----------------------------------------------------------------

void connection::post_reply(uint64_t request_no, server_response r) {
  core_->post(executor_, [self = shared_from_this(), request_no, r = std::move(r)]() mutable {
    self->on_reply(request_no, std::move(r));
  });
}

void connection::post_stream_flush() {
  core_->post(executor_, [self = shared_from_this()] { self->flush_stream(); });
}

void connection::post_stream_overflow() {
  core_->post(executor_, [self = shared_from_this()] { self->close(); });
}

void connection::post_shutdown() {
  core_->post(executor_, [self = shared_from_this()] { self->on_shutdown(); });
}

void connection::close_after_stop() {
  close();
}

} // namespace troupe::net::detail
