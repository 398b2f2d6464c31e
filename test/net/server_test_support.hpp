#pragma once
// What the HTTP server tests (test/net/http_server_*_test.cpp) drive the
// server with: a started server, a raw blocking client socket with deadlines
// (malformed, slow and half-behaved clients; responses parsed by Beast's
// own parser), a waiter for conditions, and the process's memory figures.

#include <poll.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>
#include <malloc.h>

#include "net/http_server.hpp"
#include "schemas/errors.hpp"

namespace troupe::test {

using namespace std::chrono_literals;

/// Options with test-sized timeouts (every test can shorten them further).
inline net::http_server_options test_options() {
  net::http_server_options o;
  o.io_threads = 2; // the default: connections on two threads, each on its strand
  o.header_timeout = 2s;
  o.body_timeout = 2s;
  o.idle_timeout = 5s;
  o.write_timeout = 2s;
  return o;
}

inline std::unique_ptr<net::http_server> start_server(net::http_server_options opts,
                                                      net::server_handler handler) {
  auto s = net::http_server::start(std::move(opts), std::move(handler));
  BOOST_REQUIRE_MESSAGE(s, render(s));
  return std::move(*s);
}

/// Polls `pred` every millisecond until it holds or `timeout` passed; for
/// conditions no callback announces (the server's counters).
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// A value handed over from a server thread, waited for without sleeping.
template <class T>
class handoff {
public:
  void put(T v) {
    std::lock_guard<std::mutex> lock{mu_};
    value_ = std::move(v);
    cv_.notify_all();
  }
  std::optional<T> take(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!cv_.wait_for(lock, timeout, [&] { return value_.has_value(); }))
      return std::nullopt;
    auto v = std::move(value_);
    value_.reset();
    return v;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

struct raw_response {
  int status = 0;
  int version = 11;
  std::string body;
  boost::beast::http::fields headers;
  bool keep_alive = false;
  bool chunked = false;

  [[nodiscard]] std::string header(boost::beast::http::field f) const {
    auto it = headers.find(f);
    return it == headers.end() ? std::string{} : std::string{it->value()};
  }
  [[nodiscard]] std::string header(std::string_view name) const {
    auto it = headers.find(boost::beast::string_view{name.data(), name.size()});
    return it == headers.end() ? std::string{} : std::string{it->value()};
  }
};

/// One client connection to 127.0.0.1, blocking, every read with a deadline.
class raw_client {
public:
  using tcp = boost::asio::ip::tcp;
  enum class fill_result { data, closed, timeout };

  /// `receive_buffer`: SO_RCVBUF before connecting (0: the default), for a
  /// client that does not read and should stall the server's writes soon.
  explicit raw_client(uint16_t port, int receive_buffer = 0) : socket_(ioc_) {
    socket_.open(tcp::v4());
    if (receive_buffer > 0)
      socket_.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
    boost::system::error_code ec;
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    connect_error_ = ec;
  }

  [[nodiscard]] boost::system::error_code connect_error() const { return connect_error_; }

  /// Sends all of `bytes`; false when the server has closed or reset.
  bool send(std::string_view bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  /// Reads one response (Beast's parser; `head`: a reply to HEAD, no body).
  std::optional<raw_response> read_response(bool head = false,
                                            std::chrono::milliseconds timeout = 5s) {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> p;
    p.body_limit(256u << 20);
    p.eager(true);
    if (head)
      p.skip(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (buffer_.size() > 0) {
        boost::system::error_code ec;
        auto n = p.put(buffer_.data(), ec);
        buffer_.consume(n);
        if (p.is_done())
          return to_response(p);
        if (ec && ec != http::error::need_more)
          return std::nullopt;
        if (n > 0 && !ec)
          continue;
      }
      auto r = fill(deadline);
      if (r == fill_result::timeout)
        return std::nullopt;
      if (r == fill_result::closed) {
        boost::system::error_code ec;
        p.put_eof(ec); // a close-delimited body ends here
        if (!ec && p.is_done())
          return to_response(p);
        return std::nullopt;
      }
    }
  }

  /// Reads (and keeps in `received()`) until `needle` has arrived; false at
  /// the deadline or when the server closed first.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (received().find(needle) != std::string_view::npos)
        return true;
      if (fill(deadline) != fill_result::data)
        return false;
    }
  }

  /// Reads until the server closes (FIN or reset): true, or false at the deadline.
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto r = fill(deadline);
      if (r == fill_result::closed)
        return true;
      if (r == fill_result::timeout)
        return false;
    }
  }

  /// Everything read and not consumed by `read_response`.
  [[nodiscard]] std::string_view received() const {
    auto d = buffer_.data();
    return {static_cast<const char*>(d.data()), d.size()};
  }
  void clear_received() { buffer_.consume(buffer_.size()); }
  [[nodiscard]] size_t total_read() const { return total_read_; }

  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

  /// An abortive close (RST), as a crashed client's kernel sends.
  void reset() {
    boost::system::error_code ec;
    socket_.set_option(boost::asio::socket_base::linger(true, 0), ec);
    socket_.close(ec);
  }

  /// Waits for data or the end until `deadline`, then reads what is there.
  fill_result fill(std::chrono::steady_clock::time_point deadline) {
    pollfd pfd{socket_.native_handle(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() < 0)
      left = 0ms;
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc == 0)
      return fill_result::timeout;
    boost::system::error_code ec;
    auto n = socket_.read_some(buffer_.prepare(64 * 1024), ec);
    if (ec)
      return fill_result::closed; // EOF or reset
    buffer_.commit(n);
    total_read_ += n;
    return fill_result::data;
  }

private:
  template <class Parser>
  static raw_response to_response(Parser& p) {
    raw_response r;
    auto& m = p.get();
    r.status = static_cast<int>(m.result_int());
    r.version = static_cast<int>(m.version());
    r.keep_alive = m.keep_alive();
    r.chunked = m.chunked();
    for (const auto& f : m)
      r.headers.insert(f.name_string(), f.value());
    r.body = m.body();
    return r;
  }

  boost::asio::io_context ioc_;
  tcp::socket socket_;
  boost::system::error_code connect_error_;
  boost::beast::flat_buffer buffer_;
  size_t total_read_ = 0;
};

/// A GET for `path` as a client would send it.
inline std::string get_request(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string{path} + " HTTP/1.1\r\nHost: test\r\n" + std::string{extra_headers}
         + "\r\n";
}

inline size_t rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoul(line.substr(6));
  return 0;
}

inline size_t heap_in_use() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/// Raises the soft file-descriptor limit to the hard one (many sockets).
inline size_t raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

} // namespace troupe::test
