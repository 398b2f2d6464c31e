#include "net/detail/io_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "net/net_errc.hpp"

namespace troupe::net::detail {

namespace {

caf::error start_error(const std::string& what, int err) {
  return caf::make_error(net_errc::start_failed,
                         what + ": " + std::error_code{err, std::generic_category()}.message());
}

void deliver(std::function<void(http_outcome)>& on_done, http_outcome out) {
  if (!on_done)
    return;
  // Nobody above the I/O thread could hear about this exception: log it
  // and keep the thread serving the other transfers.
  try {
    on_done(std::move(out));
  } catch (const std::exception& e) {
    spdlog::error("net: an on_done callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("net: an on_done callback threw");
  }
}

std::string timeout_message(timeout_kind k, uint64_t ms) {
  auto limit = std::to_string(ms) + " ms";
  return k == timeout_kind::first_byte ? "no response headers within " + limit
                                       : "no body data for " + limit;
}

constexpr const char* shutdown_message = "the HTTP client shut down";

} // namespace

// -- setup and teardown ---------------------------------------------------------

io_loop::io_loop(const http_client_config& cfg) : cfg_(cfg) {
}

caf::expected<std::unique_ptr<io_loop>> io_loop::start(const http_client_config& cfg) {
  std::unique_ptr<io_loop> loop{new io_loop(cfg)};
  if (auto err = loop->open())
    return err;
  try {
    loop->thread_ = std::thread([l = loop.get()] { l->run(); });
  } catch (const std::system_error& e) {
    return start_error("starting an I/O thread", e.code().value());
  }
  return loop;
}

caf::error io_loop::open() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    return start_error("eventfd", errno);
  return driver_.open(cfg_.max_connections, wake_fd_);
}

io_loop::~io_loop() {
  if (thread_.joinable()) {
    push_stop();
    join();
  }
  while (drain_after_join()) {
  }
  transfers_.clear(); // empty after a stop; easy handles go before the multi
  if (wake_fd_ >= 0)
    close(wake_fd_);
}

void io_loop::join() {
  if (thread_.joinable())
    thread_.join();
}

// -- the queue (any thread) --------------------------------------------------------

void io_loop::push(command c) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> guard{queue_mu_};
    was_empty = queue_.empty();
    queue_.push_back(std::move(c));
  }
  // The loop drains the whole queue after each wakeup, so only the push
  // that made it non-empty needs to wake it.
  if (was_empty) {
    uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof one) != sizeof one) {
      // Only EAGAIN is possible (the counter is near 2^64): already woken.
    }
  }
}

void io_loop::push_submit(uint64_t id, http_request req, http_callbacks cb,
                          clock_type::time_point submitted) {
  pending_.fetch_add(1, std::memory_order_relaxed);
  command c{command::kind::submit, id,
            std::make_unique<transfer>(id, std::move(req), std::move(cb), submitted)};
  push(std::move(c));
}

void io_loop::push_cancel(uint64_t id) {
  push(command{command::kind::cancel, id, nullptr});
}

void io_loop::push_stop() {
  push(command{command::kind::stop, 0, nullptr});
}

bool io_loop::drain_after_join() {
  std::vector<command> batch;
  {
    std::lock_guard<std::mutex> guard{queue_mu_};
    batch.swap(queue_);
  }
  bool any = false;
  for (auto& c : batch) {
    if (c.what != command::kind::submit)
      continue;
    any = true;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    auto out = c.t->outcome_of(transport_error::canceled, timeout_kind::none,
                               shutdown_message, clock_type::now());
    deliver(c.t->callbacks().on_done, std::move(out));
  }
  return any;
}

// -- the loop ------------------------------------------------------------------------

void io_loop::run() {
  pthread_setname_np(pthread_self(), "troupe-http"); // for top -H and perf
  while (!stopping_) {
    auto waited = driver_.wait(next_scan_);
    if (waited == multi_driver::wait_result::failed) {
      // Rather than spin, end every request: each still hears on_done.
      on_stop();
      break;
    }
    read_done();
    if (waited == multi_driver::wait_result::woken)
      take_commands();
    auto now = clock_type::now();
    if (now >= next_scan_)
      expire_timeouts(now);
  }
  // Requests submitted from the on_done callbacks of the shutdown.
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{queue_mu_};
      if (queue_.empty())
        break;
    }
    take_commands();
  }
}

void io_loop::take_commands() {
  uint64_t count;
  if (read(wake_fd_, &count, sizeof count) < 0) {
    // EAGAIN: the counter was already read by an earlier turn.
  }
  std::vector<command> batch;
  {
    std::lock_guard<std::mutex> guard{queue_mu_};
    batch.swap(queue_);
  }
  for (auto& c : batch) {
    switch (c.what) {
      case command::kind::submit:
        on_submit(std::move(c.t));
        break;
      case command::kind::cancel:
        on_cancel(c.id, "canceled by the caller");
        break;
      case command::kind::stop:
        on_stop();
        break;
    }
  }
}

// -- commands -----------------------------------------------------------------------

void io_loop::on_submit(std::unique_ptr<transfer> t) {
  if (stopping_) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    auto out = t->outcome_of(transport_error::canceled, timeout_kind::none,
                             shutdown_message, clock_type::now());
    deliver(t->callbacks().on_done, std::move(out));
    return;
  }
  auto id = t->id();
  auto pool_name = t->request().pool;
  auto& pool = pools_[pool_name];
  pool.limit = std::max<uint32_t>(1, t->request().max_concurrency);
  pool.waiting.push_back(id);
  t->set_deadline_hint(&next_scan_);
  transfers_.emplace(id, std::move(t));
  start_waiting(pool_name);
}

void io_loop::on_cancel(uint64_t id, const char* why) {
  auto it = transfers_.find(id);
  if (it == transfers_.end())
    return; // ended already
  finish(id, it->second->outcome_of(transport_error::canceled, timeout_kind::none, why,
                                    clock_type::now()));
}

void io_loop::on_stop() {
  stopping_ = true;
  std::vector<uint64_t> ids;
  ids.reserve(transfers_.size());
  for (const auto& entry : transfers_)
    ids.push_back(entry.first);
  for (auto id : ids)
    on_cancel(id, shutdown_message);
  pools_.clear();
}

// -- pools ----------------------------------------------------------------------------

void io_loop::start_waiting(const std::string& pool_name) {
  // Requests that could not start end after the loop below, so that their
  // on_done (which may submit) never runs while a pool is being walked.
  std::vector<std::pair<std::unique_ptr<transfer>, http_outcome>> failed;
  auto it = pools_.find(pool_name);
  if (it == pools_.end())
    return;
  auto& pool = it->second;
  while (pool.running < pool.limit && !pool.waiting.empty()) {
    auto id = pool.waiting.front();
    pool.waiting.pop_front();
    auto tit = transfers_.find(id);
    if (tit == transfers_.end() || tit->second->running())
      continue; // canceled while it waited
    auto& t = *tit->second;
    auto now = clock_type::now();
    if (!t.prepare(cfg_.receive_buffer_bytes)) {
      auto out = t.outcome_of(t.setup_error(), timeout_kind::none, t.setup_message(), now);
      failed.emplace_back(std::move(tit->second), std::move(out));
      transfers_.erase(tit);
      continue;
    }
    if (auto rc = driver_.add(t.easy()); rc != CURLM_OK) {
      auto out = t.outcome_of(transport_error::internal, timeout_kind::none,
                              std::string{"curl_multi_add_handle: "} + curl_multi_strerror(rc),
                              now);
      failed.emplace_back(std::move(tit->second), std::move(out));
      transfers_.erase(tit);
      continue;
    }
    t.started(now);
    ++pool.running;
  }
  if (pool.running == 0 && pool.waiting.empty())
    pools_.erase(it);
  for (auto& [t, out] : failed) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    deliver(t->callbacks().on_done, std::move(out));
  }
}

void io_loop::finish(uint64_t id, http_outcome outcome) {
  auto node = transfers_.extract(id);
  if (node.empty())
    return;
  auto t = std::move(node.mapped());
  auto pool_name = t->request().pool;
  if (t->running()) {
    // Removing a transfer that has not ended closes its connection: the
    // server sees the close, and the connection is never reused mid-reply.
    if (auto rc = driver_.remove(t->easy()); rc != CURLM_OK)
      spdlog::error("net: curl_multi_remove_handle: {}", curl_multi_strerror(rc));
    if (auto p = pools_.find(pool_name); p != pools_.end() && p->second.running > 0)
      --p->second.running;
  }
  auto on_done = std::move(t->callbacks().on_done);
  t.reset(); // the easy handle and its buffer go before on_done runs
  pending_.fetch_sub(1, std::memory_order_relaxed);
  deliver(on_done, std::move(outcome));
  if (!stopping_)
    start_waiting(pool_name);
}

// -- libcurl's side ----------------------------------------------------------------

void io_loop::read_done() {
  driver_.take_done([this](CURL* easy, CURLcode result) {
    char* priv = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || priv == nullptr)
      return; // cannot happen: every handle gets CURLOPT_PRIVATE
    auto* t = reinterpret_cast<transfer*>(priv);
    finish(t->id(), t->outcome_from_curl(result, clock_type::now()));
  });
}

void io_loop::expire_timeouts(clock_type::time_point now) {
  next_scan_ = clock_type::time_point::max();
  std::vector<uint64_t> expired;
  for (const auto& [id, t] : transfers_) {
    auto d = t->deadline();
    if (d <= now)
      expired.push_back(id);
    else
      next_scan_ = std::min(next_scan_, d);
  }
  for (auto id : expired) {
    auto it = transfers_.find(id);
    if (it == transfers_.end())
      continue;
    auto& t = *it->second;
    auto kind = t.deadline_kind();
    auto ms = kind == timeout_kind::first_byte ? t.request().timeouts.first_byte_ms
                                               : t.request().timeouts.idle_ms;
    finish(id, t.outcome_of(transport_error::timeout, kind, timeout_message(kind, ms), now));
  }
}

} // namespace troupe::net::detail
