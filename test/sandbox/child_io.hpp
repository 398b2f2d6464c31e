#pragma once
// Talking to a sandboxed child in tests: whole lines with a deadline (poll,
// never sleeps), whole writes, and a stream drained on a thread of its own
// as a real caller's reader thread would.

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <poll.h>
#include <unistd.h>

namespace troupe::test {

/// Reads `fd` line by line; each call waits at most `timeout` for one.
class line_reader {
public:
  explicit line_reader(int fd) : fd_(fd) {}

  /// The next line without its '\n'; nullopt at EOF or when `timeout` ran
  /// out (`timed_out()` says which).
  std::optional<std::string> next(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    timed_out_ = false;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_)
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      if (left <= 0) {
        timed_out_ = true;
        return std::nullopt;
      }
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left));
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc <= 0)
        continue;
      char chunk[4096];
      auto n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        eof_ = true;
      else
        buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  /// Everything up to EOF (waiting at most `timeout`), without splitting.
  std::string rest(std::chrono::milliseconds timeout) {
    std::string out;
    while (auto line = next(timeout))
      out += *line + "\n";
    out += buf_;
    buf_.clear();
    return out;
  }

  bool eof() const { return eof_ && buf_.empty(); }
  bool timed_out() const { return timed_out_; }

private:
  int fd_;
  std::string buf_;
  bool eof_ = false;
  bool timed_out_ = false;
};

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

/// Reads `fd` to EOF on a thread of its own and closes it; `text()` once
/// joined (after `join`, or the destructor).
class stream_drain {
public:
  explicit stream_drain(int fd)
      : thread_([this, fd] {
          char chunk[4096];
          for (;;) {
            auto n = ::read(fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
              continue;
            if (n <= 0)
              break;
            text_.append(chunk, static_cast<size_t>(n));
          }
          ::close(fd);
        }) {}
  ~stream_drain() { join(); }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }
  const std::string& text() {
    join();
    return text_;
  }

private:
  std::string text_;
  std::thread thread_;
};

/// Polls `done` until it holds or `timeout` passes; for host state that
/// offers nothing to wait on (a process leaving /proc).
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2}); // a polling interval
  }
  return true;
}

} // namespace troupe::test
