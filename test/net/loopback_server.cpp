#include "test/net/loopback_server.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>

#include <pthread.h>
#include <sys/socket.h>

#include <boost/asio.hpp>

namespace troupe::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 529: return "Overloaded";
    default: return "Status";
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The request line and headers of one request ("...\r\n\r\n" included).
// Returns the Content-Length (0 when absent or unreadable).
size_t parse_head(std::string_view head, received_request& req) {
  size_t length = 0;
  bool first = true;
  while (!head.empty()) {
    auto eol = head.find("\r\n");
    auto line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (line.empty())
      break;
    if (first) {
      first = false;
      auto sp1 = line.find(' ');
      auto sp2 = line.find(' ', sp1 + 1);
      req.method = std::string{line.substr(0, sp1)};
      req.target = std::string{line.substr(sp1 + 1, sp2 - sp1 - 1)};
      req.path = req.target.substr(0, req.target.find('?'));
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto name = lower(std::string{trim(line.substr(0, colon))});
    auto value = std::string{trim(line.substr(colon + 1))};
    if (name == "content-length")
      length = static_cast<size_t>(std::strtoull(value.c_str(), nullptr, 10));
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  return length;
}

bool wants_close(const received_request& req) {
  for (const auto& [n, v] : req.headers)
    if (n == "connection" && lower(v) == "close")
      return true;
  return false;
}

} // namespace

reply_plan plain_reply(int status, std::string body, std::string content_type) {
  reply_plan p;
  p.status = status;
  p.headers = {{"Content-Type", std::move(content_type)}};
  p.chunked = false;
  p.chunks = {{std::chrono::milliseconds{0}, std::move(body), nullptr}};
  return p;
}

reply_plan streamed_reply(std::vector<std::string> pieces, std::chrono::milliseconds first_delay,
                          std::chrono::milliseconds gap) {
  reply_plan p;
  p.headers = {{"Content-Type", "text/event-stream"}};
  for (size_t i = 0; i < pieces.size(); ++i)
    p.chunks.push_back({i == 0 ? first_delay : gap, std::move(pieces[i]), nullptr});
  return p;
}

// -- one connection ----------------------------------------------------------------
//
// All of a connection's handlers run on its strand. While a reply is in
// progress an `async_wait(wait_read)` watches the socket without reading:
// when it turns readable and a peek finds EOF or an error, the client went
// away mid-reply (what a canceled transfer looks like from here).

class loopback_server::connection : public std::enable_shared_from_this<connection> {
public:
  connection(loopback_server& server, tcp::socket sock, uint64_t id)
    : server_(server), sock_(std::move(sock)), timer_(sock_.get_executor()), id_(id) {
  }

  void read_request() {
    asio::async_read_until(sock_, in_, "\r\n\r\n",
                           [self = shared_from_this()](error_code ec, size_t n) {
                             self->on_head(ec, n);
                           });
  }

private:
  void on_head(error_code ec, size_t n) {
    if (ec) {
      client_gone();
      return;
    }
    received_request req;
    req.connection = id_;
    auto data = in_.data();
    std::string head{asio::buffers_begin(data), asio::buffers_begin(data) + n};
    in_.consume(n);
    auto length = parse_head(head, req);
    if (in_.size() >= length) {
      take_body(req, length);
      handle(std::move(req));
      return;
    }
    asio::async_read(sock_, in_, asio::transfer_exactly(length - in_.size()),
                     [self = shared_from_this(), req = std::move(req),
                      length](error_code ec, size_t) mutable {
                       if (ec) {
                         self->client_gone();
                         return;
                       }
                       self->take_body(req, length);
                       self->handle(std::move(req));
                     });
  }

  void take_body(received_request& req, size_t length) {
    auto data = in_.data();
    req.body.assign(asio::buffers_begin(data), asio::buffers_begin(data) + length);
    in_.consume(length);
  }

  void handle(received_request req) {
    received_at_ = std::chrono::steady_clock::now();
    close_after_ = wants_close(req);
    auto h = server_.handler_for(req.path);
    if (!h) {
      plan_ = plain_reply(404, "no handler for " + req.path);
    } else {
      try {
        plan_ = h(req);
      } catch (const std::exception& e) {
        plan_ = plain_reply(500, e.what());
      }
    }
    replying_ = true;
    server_.update([](server_stats& s) {
      ++s.requests;
      ++s.in_flight;
      s.max_in_flight = std::max(s.max_in_flight, s.in_flight);
    });
    watch();
    if (plan_.stall_before_headers)
      return;
    after(plan_.headers_delay, [this] { send_headers(); });
  }

  void watch() {
    auto gen = ++watch_gen_;
    sock_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), gen](error_code ec) {
      if (ec || self->closed_ || gen != self->watch_gen_ || !self->replying_)
        return;
      char c;
      auto r = ::recv(self->sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        self->client_gone();
        return;
      }
      if (r < 0)
        self->watch();
      // r > 0: the client sent more during the reply; HTTP/1.1 clients
      // do not pipeline, so this is left for the next read.
    });
  }

  void after(std::chrono::milliseconds delay, std::function<void()> fn) {
    if (delay.count() <= 0) {
      fn();
      return;
    }
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), fn = std::move(fn)](error_code ec) {
      if (ec || self->closed_)
        return;
      fn();
    });
  }

  // Writes `data`, then `shared` (when given) and `tail`, in one write.
  void write(std::string data, std::function<void()> then,
             std::shared_ptr<const std::string> shared = nullptr, std::string_view tail = {}) {
    out_ = std::move(data);
    shared_ = std::move(shared);
    if (out_.empty() && !shared_ && tail.empty()) {
      then();
      return;
    }
    std::array<asio::const_buffer, 3> buffers{
      asio::buffer(out_), shared_ ? asio::buffer(*shared_) : asio::const_buffer{},
      asio::buffer(tail.data(), tail.size())};
    asio::async_write(sock_, buffers,
                      [self = shared_from_this(), then = std::move(then)](error_code ec, size_t) {
                        if (self->closed_)
                          return;
                        if (ec) {
                          self->client_gone();
                          return;
                        }
                        then();
                      });
  }

  void send_headers() {
    std::string head = "HTTP/1.1 " + std::to_string(plan_.status) + " " + reason(plan_.status) +
                       "\r\n";
    for (const auto& [n, v] : plan_.headers)
      head += n + ": " + v + "\r\n";
    if (plan_.chunked) {
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      size_t total = 0;
      for (const auto& c : plan_.chunks)
        total += c.data.size();
      head += "Content-Length: " + std::to_string(total) + "\r\n";
    }
    if (close_after_)
      head += "Connection: close\r\n";
    head += "\r\n";
    write(std::move(head), [this] { send_chunk(0); });
  }

  void send_chunk(size_t i) {
    if (i == plan_.chunks.size()) {
      after(plan_.end_delay, [this] { end_reply(); });
      return;
    }
    after(plan_.chunks[i].delay, [this, i] {
      const auto& c = plan_.chunks[i];
      const auto& d = c.shared ? *c.shared : c.data;
      if (d.empty()) { // an empty HTTP chunk would end the body
        send_chunk(i + 1);
        return;
      }
      auto next = [this, i] { send_chunk(i + 1); };
      std::string size;
      if (plan_.chunked) {
        char line[20];
        std::snprintf(line, sizeof line, "%zx\r\n", d.size());
        size = line;
      }
      std::string_view tail = plan_.chunked ? "\r\n" : "";
      if (c.shared)
        write(std::move(size), next, c.shared, tail);
      else
        write(size + d + std::string{tail}, next);
    });
  }

  void end_reply() {
    switch (plan_.end) {
      case reply_end::complete:
        write(plan_.chunked ? "0\r\n\r\n" : "", [this] { reply_complete(); });
        return;
      case reply_end::stall:
        return; // the watch notices when the client gives up
      case reply_end::reset:
      case reply_end::close: {
        error_code ignored;
        if (plan_.end == reply_end::reset)
          sock_.set_option(asio::socket_base::linger(true, 0), ignored); // close sends RST
        else
          sock_.shutdown(tcp::socket::shutdown_both, ignored);
        drop(false);
        return;
      }
    }
  }

  void reply_complete() {
    replying_ = false;
    ended(true);
    server_.update([](server_stats& s) {
      --s.in_flight;
      ++s.replies_done;
    });
    if (close_after_) {
      error_code ignored;
      sock_.shutdown(tcp::socket::shutdown_both, ignored);
      closed_ = true;
      sock_.close(ignored);
      return;
    }
    read_request();
  }

  // The client closed or reset the connection (or a read or write failed).
  void client_gone() {
    if (closed_)
      return;
    drop(true);
  }

  void drop(bool by_client) {
    bool during = replying_;
    replying_ = false;
    if (during)
      ended(false);
    closed_ = true;
    error_code ignored;
    timer_.cancel(ignored);
    sock_.close(ignored);
    server_.update([during, by_client](server_stats& s) {
      if (during)
        --s.in_flight;
      if (by_client) {
        ++s.client_closes;
        if (during)
          ++s.client_aborts;
      }
    });
  }

  void ended(bool complete) {
    if (!plan_.on_end)
      return;
    auto on_end = std::move(plan_.on_end);
    plan_.on_end = nullptr;
    on_end(reply_timing{received_at_, std::chrono::steady_clock::now(), complete});
  }

  loopback_server& server_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  asio::streambuf in_;
  uint64_t id_;
  reply_plan plan_;
  std::string out_;
  std::shared_ptr<const std::string> shared_; ///< written after out_
  std::chrono::steady_clock::time_point received_at_{};
  bool replying_ = false;
  bool closed_ = false;
  bool close_after_ = false;
  uint64_t watch_gen_ = 0;
};

// -- the server ----------------------------------------------------------------------

struct loopback_server::impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  uint64_t next_connection = 0; // on the acceptor's handler only
};

loopback_server::loopback_server(size_t threads) : impl_(std::make_unique<impl>()) {
  auto& acc = impl_->acceptor;
  tcp::endpoint where{asio::ip::make_address_v4("127.0.0.1"), 0};
  acc.open(where.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(where);
  acc.listen(asio::socket_base::max_listen_connections);
  port_ = acc.local_endpoint().port();

  struct acceptor_loop {
    loopback_server* server;
    void operator()() const {
      auto* s = server;
      s->impl_->acceptor.async_accept(asio::make_strand(s->impl_->io),
                                      [s](error_code ec, tcp::socket sock) {
                                        if (ec == asio::error::operation_aborted)
                                          return;
                                        if (!ec) {
                                          // Headers and body go out in
                                          // separate writes: without this,
                                          // Nagle holds the second until the
                                          // client's delayed ACK (40 ms).
                                          error_code ignored;
                                          sock.set_option(tcp::no_delay(true), ignored);
                                          auto id = ++s->impl_->next_connection;
                                          s->update([](server_stats& st) { ++st.accepted; });
                                          std::make_shared<connection>(*s, std::move(sock), id)
                                            ->read_request();
                                        }
                                        acceptor_loop{s}();
                                      });
    }
  };
  acceptor_loop{this}();
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "loopback-http");
      impl_->io.run();
    });
}

loopback_server::~loopback_server() {
  impl_->io.stop();
  for (auto& t : threads_)
    t.join();
  impl_.reset(); // connections (held by their pending handlers) go here
}

std::string loopback_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string{path};
}

void loopback_server::on(std::string path, request_handler h) {
  std::lock_guard<std::mutex> guard{mu_};
  handlers_[std::move(path)] = std::move(h);
}

request_handler loopback_server::handler_for(const std::string& path) const {
  std::lock_guard<std::mutex> guard{mu_};
  auto it = handlers_.find(path);
  return it == handlers_.end() ? request_handler{} : it->second;
}

void loopback_server::update(const std::function<void(server_stats&)>& change) {
  {
    std::lock_guard<std::mutex> guard{mu_};
    change(stats_);
  }
  changed_.notify_all();
}

server_stats loopback_server::stats() const {
  std::lock_guard<std::mutex> guard{mu_};
  return stats_;
}

bool loopback_server::wait_until(const std::function<bool(const server_stats&)>& pred,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock{mu_};
  return changed_.wait_for(lock, timeout, [&] { return pred(stats_); });
}

void loopback_server::reset_max_in_flight() {
  std::lock_guard<std::mutex> guard{mu_};
  stats_.max_in_flight = stats_.in_flight;
}

} // namespace troupe::test
