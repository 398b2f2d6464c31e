#include "net/sse_stream.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "net/detail/server_connection.hpp"
#include "net/detail/sse_format.hpp"

namespace troupe::net {

sse_stream::sse_stream(passkey, std::weak_ptr<detail::connection> conn, size_t max_queue_bytes)
  : conn_(std::move(conn)), max_queue_bytes_(max_queue_bytes) {
}

std::shared_ptr<sse_stream> sse_stream::make(std::weak_ptr<detail::connection> conn,
                                             size_t max_queue_bytes) {
  return std::make_shared<sse_stream>(passkey{}, std::move(conn), max_queue_bytes);
}

bool sse_stream::send(std::string_view id, std::string_view event, std::string_view data) {
  return enqueue([&](std::string& q) { detail::append_sse_event(q, id, event, data); });
}

bool sse_stream::comment(std::string_view text) {
  return enqueue([&](std::string& q) { detail::append_sse_comment(q, text); });
}

template <class Append>
bool sse_stream::enqueue(Append&& append) {
  std::unique_lock<std::mutex> lock{mutex_};
  if (close_asked_ || ended_)
    return false;
  append(queue_);
  touched_ = true;
  if (queue_.size() + in_flight_ > max_queue_bytes_) {
    // Too slow a client: drop it rather than hold an unbounded backlog.
    std::string{}.swap(queue_);
    close_asked_ = true;
    lock.unlock();
    notify(true);
    return false;
  }
  bool post = !flush_posted_;
  flush_posted_ = true;
  lock.unlock();
  if (post)
    notify(false);
  return true;
}

void sse_stream::notify(bool overflow) {
  auto conn = conn_.lock();
  if (!conn)
    return; // the connection is gone; it has called ended()
  if (overflow)
    conn->post_stream_overflow();
  else
    conn->post_stream_flush();
}

void sse_stream::close() {
  std::unique_lock<std::mutex> lock{mutex_};
  if (close_asked_ || ended_)
    return;
  close_asked_ = true;
  bool post = !flush_posted_;
  flush_posted_ = true;
  lock.unlock();
  if (post)
    notify(false);
}

bool sse_stream::closed() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return close_asked_ || ended_;
}

void sse_stream::on_close(std::function<void()> f) {
  std::unique_lock<std::mutex> lock{mutex_};
  if (!ended_) {
    on_close_.push_back(std::move(f));
    return;
  }
  lock.unlock();
  f();
}

size_t sse_stream::queued_bytes() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return queue_.size() + in_flight_;
}

bool sse_stream::take(std::string& out) {
  std::lock_guard<std::mutex> lock{mutex_};
  out.swap(queue_); // `out` was empty: the queue keeps its old buffer's capacity
  in_flight_ = out.size();
  flush_posted_ = false;
  return close_asked_;
}

void sse_stream::wrote() {
  std::lock_guard<std::mutex> lock{mutex_};
  in_flight_ = 0;
}

bool sse_stream::keepalive() {
  std::lock_guard<std::mutex> lock{mutex_};
  if (close_asked_ || ended_)
    return false;
  if (touched_) {
    touched_ = false;
    return false;
  }
  // Not counted against the bound: a few bytes per tick, and a client that
  // takes nothing at all is closed by the write timeout.
  detail::append_sse_comment(queue_, "keepalive");
  return true;
}

void sse_stream::ended() {
  std::unique_lock<std::mutex> lock{mutex_};
  if (ended_)
    return;
  ended_ = true;
  close_asked_ = true;
  std::string{}.swap(queue_);
  auto callbacks = std::move(on_close_);
  on_close_.clear();
  lock.unlock();
  for (auto& f : callbacks) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::warn("http server: an SSE on_close callback threw: {}", e.what());
    } catch (...) {
      spdlog::warn("http server: an SSE on_close callback threw");
    }
  }
}

} // namespace troupe::net
