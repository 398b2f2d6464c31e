// A thousand SSE streams on one server with one I/O thread, each receiving
// every event in order: what `troupe serve` must hold without a thread per
// connection. The clients are raw Asio sockets on one thread of the test,
// small on purpose, so the memory per stream printed is mostly the server's.

#include <array>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "test/net/server_test_support.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

size_t thread_count() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0)
      return std::stoul(line.substr(8));
  return 0;
}

// What all clients have seen; the test waits on it.
struct tally {
  std::mutex mu;
  std::condition_variable cv;
  size_t headers = 0;   ///< clients that have the response header
  size_t completed = 0; ///< clients that have every expected event
  size_t ended = 0;     ///< clients whose connection ended
  size_t out_of_order = 0;
  size_t expected = 0; ///< events each client must see

  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, timeout, pred);
  }
};

// One SSE client: counts the events of the raw (chunked) stream. Each
// server batch is whole events, so an event never straddles a chunk's
// framing; ids must come 1, 2, 3, ...
class sse_client : public std::enable_shared_from_this<sse_client> {
public:
  sse_client(asio::io_context& ioc, tally& t) : socket_(ioc), tally_(t) {}

  void start(uint16_t port) {
    socket_.async_connect({asio::ip::make_address("127.0.0.1"), port},
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (ec)
                              return self->end();
                            static const std::string request = get_request("/events");
                            asio::async_write(self->socket_, asio::buffer(request),
                                              [self](boost::system::error_code ec, size_t) {
                                                if (ec)
                                                  return self->end();
                                                self->read();
                                              });
                          });
  }

private:
  void read() {
    socket_.async_read_some(asio::buffer(buf_),
                            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                              if (ec)
                                return self->end();
                              self->pending_.append(self->buf_.data(), n);
                              self->scan();
                              self->read();
                            });
  }

  void scan() {
    if (!header_) {
      auto end = pending_.find("\r\n\r\n");
      if (end == std::string::npos)
        return;
      pending_.erase(0, end + 4);
      header_ = true;
      bump([](tally& t) { ++t.headers; });
    }
    size_t end;
    while ((end = pending_.find("\n\n")) != std::string::npos) {
      auto id = pending_.find("id: ");
      if (id != std::string::npos && id < end) {
        if (std::stoul(pending_.substr(id + 4)) != next_id_)
          bump([](tally& t) { ++t.out_of_order; });
        ++next_id_;
        bool done = false;
        {
          std::lock_guard<std::mutex> lock{tally_.mu};
          done = next_id_ - 1 == tally_.expected;
        }
        if (done)
          bump([](tally& t) { ++t.completed; });
      }
      pending_.erase(0, end + 2);
    }
  }

  void end() {
    bump([](tally& t) { ++t.ended; });
  }

  template <class F>
  void bump(F f) {
    std::lock_guard<std::mutex> lock{tally_.mu};
    f(tally_);
    tally_.cv.notify_all();
  }

  tcp::socket socket_;
  tally& tally_;
  std::array<char, 256> buf_{};
  std::string pending_;
  bool header_ = false;
  uint64_t next_id_ = 1;
};

} // namespace

BOOST_AUTO_TEST_SUITE(http_server_fanout)

BOOST_AUTO_TEST_CASE(a_thousand_streams_on_one_io_thread_each_get_every_event) {
  const size_t streams = 1000, events = 20;
  BOOST_REQUIRE_MESSAGE(raise_fd_limit() > 2 * streams + 100, "too few file descriptors");
  std::mutex mu;
  std::vector<std::shared_ptr<net::sse_stream>> open;
  std::atomic<size_t> closes{0};
  auto opts = test_options();
  opts.io_threads = 1;
  auto server = start_server(opts, [&](net::server_request&&, net::responder r) {
    auto s = r.stream();
    s->on_close([&] { closes.fetch_add(1); });
    std::lock_guard<std::mutex> lock{mu};
    open.push_back(std::move(s));
  });

  tally t;
  t.expected = events;
  asio::io_context ioc;
  auto rss_before = rss_kib();
  auto heap_before = heap_in_use();
  auto threads_before = thread_count();
  for (size_t i = 0; i < streams; ++i)
    std::make_shared<sse_client>(ioc, t)->start(server->port());
  std::thread client_thread{[&] { ioc.run(); }};

  BOOST_REQUIRE(t.wait([&] { return t.headers + t.ended == streams; }, 20s));
  BOOST_REQUIRE_EQUAL(t.headers, streams);
  BOOST_TEST(server->stats().streams == streams);
  BOOST_TEST(thread_count() == threads_before + 1); // the test's client thread only

  auto start = std::chrono::steady_clock::now();
  const std::string payload(100, 'e');
  {
    std::lock_guard<std::mutex> lock{mu};
    for (size_t e = 1; e <= events; ++e)
      for (auto& s : open)
        BOOST_REQUIRE(s->send(std::to_string(e), "tick", payload));
  }
  BOOST_REQUIRE(t.wait([&] { return t.completed + t.ended == streams; }, 20s));
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(t.completed == streams);
  BOOST_TEST(t.out_of_order == 0u);

  auto rss_after = rss_kib();
  auto heap_after = heap_in_use();
  BOOST_TEST_MESSAGE("1,000 SSE streams on 1 I/O thread: "
                     << (rss_after - rss_before) * 1024 / streams << " B RSS and "
                     << (heap_after - heap_before) / streams
                     << " B heap per stream (server and the test's client together); "
                     << events * streams << " events delivered in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms");
  // A bound that catches a per-connection buffer kept while idle.
  BOOST_TEST((heap_after - heap_before) / streams < 16u * 1024);

  {
    std::lock_guard<std::mutex> lock{mu};
    for (auto& s : open)
      s->close();
  }
  BOOST_TEST(t.wait([&] { return t.ended == streams; }, 20s));
  BOOST_TEST(wait_until([&] { return closes == streams; }));
  BOOST_TEST(wait_until([&] { return server->stats().connections == 0; }));
  ioc.stop();
  client_thread.join();
}

BOOST_AUTO_TEST_SUITE_END()
