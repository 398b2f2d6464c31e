#include "tools/troupe/bench_serve_load.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// Each of the C slots sends a request and, from that request's `on_done`
// (on the I/O thread), the next one; `wait` returns when all ended.
class load_driver {
public:
  load_driver(net::http_client& http, const http_load& load)
    : http_(http), load_(load), latency_us_(load.requests) {}

  void start() {
    t0_ = clock_type::now();
    auto slots = std::min(load_.concurrency, load_.requests);
    for (uint64_t k = 0; k < slots; ++k)
      send_next();
  }

  load_figures wait() {
    std::unique_lock<std::mutex> guard(mtx_);
    done_.wait(guard, [&] { return ended_ == load_.requests; });
    load_figures f;
    f.elapsed_s = std::chrono::duration<double>(t_end_ - t0_).count();
    f.failed = failed_;
    f.ok = load_.requests - failed_;
    f.per_s = f.elapsed_s > 0 ? static_cast<double>(load_.requests) / f.elapsed_s : 0;
    f.p50_ms = percentile_ms(latency_us_, 0.50);
    f.p99_ms = percentile_ms(latency_us_, 0.99);
    f.first_failure = first_failure_;
    return f;
  }

private:
  void send_next() {
    auto i = next_.fetch_add(1);
    if (i >= load_.requests)
      return;
    auto req = load_.make(i);
    req.pool = "bench-load";
    req.max_concurrency = static_cast<uint32_t>(load_.concurrency);
    auto body = std::make_shared<std::string>();
    auto sent = clock_type::now();
    net::http_callbacks cb;
    cb.on_data = [body](std::string_view chunk) {
      body->append(chunk);
      return net::http_action::proceed;
    };
    cb.on_done = [this, i, body, sent](net::http_outcome o) {
      auto now = clock_type::now();
      latency_us_[i] =
        std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count();
      bool good = o.ok() && load_.check(i, o.status, *body);
      bool last;
      {
        std::lock_guard<std::mutex> guard(mtx_);
        if (!good) {
          ++failed_;
          if (first_failure_.empty())
            first_failure_ = o.ok() ? std::to_string(o.status) + " " + body->substr(0, 300)
                                    : o.message;
        }
        last = ++ended_ == load_.requests;
        if (last)
          t_end_ = now;
      }
      if (last)
        done_.notify_all();
      else
        send_next();
    };
    http_.submit(std::move(req), std::move(cb));
  }

  net::http_client& http_;
  const http_load& load_;
  std::vector<int64_t> latency_us_; // slot i written once, by the I/O thread
  std::atomic<uint64_t> next_{0};
  clock_type::time_point t0_, t_end_;
  std::mutex mtx_;
  std::condition_variable done_;
  uint64_t ended_ = 0;
  uint64_t failed_ = 0;
  std::string first_failure_;
};

} // namespace

load_figures run_load(net::http_client& http, const http_load& load) {
  if (load.requests == 0)
    return {};
  load_driver driver{http, load};
  driver.start();
  return driver.wait();
}

http_answer fetch(net::http_client& http, net::http_request req) {
  auto answer = std::make_shared<http_answer>();
  auto done = std::make_shared<std::promise<void>>();
  auto ready = done->get_future();
  net::http_callbacks cb;
  cb.on_data = [answer](std::string_view chunk) {
    answer->body.append(chunk);
    return net::http_action::proceed;
  };
  cb.on_done = [answer, done](net::http_outcome o) {
    answer->status = o.ok() ? o.status : 0;
    answer->error = o.message;
    done->set_value();
  };
  http.submit(std::move(req), std::move(cb));
  ready.wait();
  return *answer;
}

net::http_request api_request(const std::string& method, const std::string& base_url,
                              const std::string& path, const std::string& key,
                              std::string body) {
  net::http_request req;
  req.method = method;
  req.url = base_url + path;
  if (!key.empty())
    req.headers.emplace_back("Authorization", "Bearer " + key);
  if (!body.empty())
    req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  req.timeouts.first_byte_ms = 30000;
  req.pool = "bench-control";
  req.max_concurrency = 4;
  return req;
}

double percentile_ms(std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(k), xs.end());
  return static_cast<double>(xs[k]) / 1000.0;
}

} // namespace troupe::cli
