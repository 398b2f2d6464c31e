#include "mcp/detail/stdio_transport.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/envelope.hpp"

namespace troupe::mcp::detail {

using std::chrono::steady_clock;

namespace {

// After stdout closed, how long stderr may take to close too: its last
// lines (a stack trace) are what the error message is made of.
constexpr int stderr_drain_ms = 500;
constexpr size_t read_chunk = 64 * 1024;

std::string errno_text(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf);
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

bool prepare_fd(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return false;
  int fdfl = ::fcntl(fd, F_GETFD);
  return fdfl >= 0 && ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) == 0;
}

void end_server(stdio_pipes& p) {
  close_fd(p.stdin_fd);
  close_fd(p.stdout_fd);
  close_fd(p.stderr_fd);
  if (p.kill)
    p.kill();
  if (p.reap)
    p.reap();
}

} // namespace

caf::expected<std::unique_ptr<stdio_transport>>
stdio_transport::start(stdio_pipes pipes, transport_sink& sink, const session_options& opts) {
  std::string prefix = "mcp server '" + opts.name + "': ";
  if (!pipes.kill || !pipes.reap)
    return caf::make_error(mcp_errc::start_failed,
                           prefix + "stdio_pipes without a kill or a reap function");
  const char* bad = nullptr;
  if (pipes.stdin_fd < 0 || !prepare_fd(pipes.stdin_fd))
    bad = "its stdin";
  else if (pipes.stdout_fd < 0 || !prepare_fd(pipes.stdout_fd))
    bad = "its stdout";
  else if (pipes.stderr_fd >= 0 && !prepare_fd(pipes.stderr_fd))
    bad = "its stderr";
  if (bad) {
    int err = errno;
    end_server(pipes);
    return caf::make_error(mcp_errc::start_failed, prefix + "the descriptor of " + bad
                                                     + " is not usable: " + errno_text(err));
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    end_server(pipes);
    return caf::make_error(mcp_errc::start_failed, prefix + "no eventfd: " + errno_text(err));
  }
  std::unique_ptr<stdio_transport> t{new stdio_transport(std::move(pipes), sink, opts)};
  t->wake_fd_ = wake;
  try {
    t->thread_ = std::thread([p = t.get()] { p->run(); });
  } catch (const std::system_error& e) {
    end_server(t->pipes_);
    t->ended_ = true;
    return caf::make_error(mcp_errc::start_failed,
                           prefix + "no I/O thread: " + std::string{e.what()});
  }
  return t;
}

stdio_transport::stdio_transport(stdio_pipes pipes, transport_sink& sink,
                                 const session_options& opts)
  : sink_(sink),
    prefix_("mcp server '" + opts.name + "': "),
    grace_(opts.shutdown_grace),
    pipes_(std::move(pipes)),
    lines_(opts.max_message_bytes),
    tail_(opts.stderr_tail_bytes) {
  stderr_open_ = pipes_.stderr_fd >= 0;
}

stdio_transport::~stdio_transport() {
  shutdown();
  close_fd(wake_fd_);
}

void stdio_transport::send(std::string message, std::optional<uint64_t>) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || ended_)
      return;
    outbox_ += message;
    outbox_ += '\n';
  }
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n; // a full eventfd counter still wakes the thread
}

void stdio_transport::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

void stdio_transport::skip_grace() {
  std::lock_guard<std::mutex> lock(mu_);
  skip_grace_ = true;
}

std::string stdio_transport::stderr_tail() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tail_.text();
}

bool stdio_transport::closing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closing_;
}

// -- the I/O thread -------------------------------------------------------------

void stdio_transport::run() {
  // A write to a server that exited fails with EPIPE instead of raising
  // SIGPIPE; the signal stays blocked on this thread, which only does I/O
  // for this session.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  while (poll_once()) {
  }
  finish();
}

bool stdio_transport::poll_once() {
  bool is_closing = false;
  bool no_grace = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    no_grace = skip_grace_;
    if (!outbox_.empty()) {
      out_.erase(0, out_done_);
      out_done_ = 0;
      out_ += outbox_;
      outbox_.clear();
    }
    is_closing = closing_;
  }
  auto now = steady_clock::now();
  if (is_closing) {
    if (!grace_end_)
      grace_end_ = no_grace ? now : now + grace_;
    // What was queued goes out first; then EOF tells the server to exit.
    if (pipes_.stdin_fd >= 0 && out_done_ == out_.size())
      close_fd(pipes_.stdin_fd);
    if (!stdout_open_ || now >= *grace_end_)
      return false;
  }
  pollfd fds[4];
  nfds_t n = 0;
  fds[n++] = {wake_fd_, POLLIN, 0};
  int out_i = -1, err_i = -1, in_i = -1;
  if (stdout_open_) {
    out_i = static_cast<int>(n);
    fds[n++] = {pipes_.stdout_fd, POLLIN, 0};
  }
  if (stderr_open_) {
    err_i = static_cast<int>(n);
    fds[n++] = {pipes_.stderr_fd, POLLIN, 0};
  }
  if (pipes_.stdin_fd >= 0 && out_done_ < out_.size()) {
    in_i = static_cast<int>(n);
    fds[n++] = {pipes_.stdin_fd, POLLOUT, 0};
  }
  int timeout = -1;
  if (grace_end_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*grace_end_ - now);
    timeout = static_cast<int>(std::max<int64_t>(0, left.count() + 1));
  }
  if (::poll(fds, n, timeout) < 0) {
    if (errno == EINTR)
      return true;
    why_ = "poll failed (" + errno_text(errno) + ")";
    return false;
  }
  if (fds[0].revents != 0) {
    uint64_t v;
    ssize_t r = ::read(wake_fd_, &v, sizeof v);
    (void)r;
  }
  if (in_i >= 0 && fds[in_i].revents != 0)
    write_stdin();
  if (out_i >= 0 && fds[out_i].revents != 0)
    read_stdout();
  if (err_i >= 0 && fds[err_i].revents != 0)
    read_stderr();
  if (!why_.empty())
    return false;
  if (!stdout_open_ && !closing()) {
    why_ = "its stdout closed";
    return false;
  }
  return true;
}

void stdio_transport::write_stdin() {
  while (out_done_ < out_.size()) {
    ssize_t n = ::write(pipes_.stdin_fd, out_.data() + out_done_, out_.size() - out_done_);
    if (n > 0) {
      out_done_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    int err = n < 0 ? errno : EPIPE;
    close_fd(pipes_.stdin_fd);
    out_.clear();
    out_done_ = 0;
    if (!closing())
      why_ = "writing to its stdin failed (" + errno_text(err) + ")";
    return;
  }
  out_.clear();
  out_done_ = 0;
}

void stdio_transport::read_stdout() {
  char buf[read_chunk];
  auto on_line = [this](std::string_view line) { sink_.on_message(line); };
  auto on_oversized = [this](uint64_t bytes) { sink_.on_oversized(bytes); };
  // A bounded number of reads per round, so stderr and stdin get their turn.
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(pipes_.stdout_fd, buf, sizeof buf);
    if (n > 0) {
      lines_.feed(std::string_view{buf, static_cast<size_t>(n)}, on_line, on_oversized);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    lines_.finish(on_line, on_oversized);
    stdout_open_ = false;
    return;
  }
}

void stdio_transport::read_stderr() {
  char buf[read_chunk];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(pipes_.stderr_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      stderr_open_ = false;
      return;
    }
    std::string_view bytes{buf, static_cast<size_t>(n)};
    {
      std::lock_guard<std::mutex> lock(mu_);
      tail_.append(bytes);
    }
    if (!spdlog::should_log(spdlog::level::debug))
      continue;
    // The server's log, line by line, at debug level.
    for (size_t nl; (nl = bytes.find('\n')) != std::string_view::npos;) {
      err_line_.append(bytes.substr(0, std::min<size_t>(nl, 4096)));
      spdlog::debug("{}stderr: {}", prefix_, escape_unprintable(err_line_, 1000));
      err_line_.clear();
      bytes.remove_prefix(nl + 1);
    }
    if (err_line_.size() < 4096)
      err_line_.append(bytes.substr(0, 4096 - err_line_.size()));
  }
}

void stdio_transport::drain_stderr(int ms) {
  auto end = steady_clock::now() + std::chrono::milliseconds(ms);
  while (stderr_open_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - steady_clock::now());
    if (left.count() <= 0)
      return;
    pollfd p{pipes_.stderr_fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return;
    read_stderr();
  }
}

void stdio_transport::finish() {
  bool report = !closing();
  if (report)
    drain_stderr(stderr_drain_ms);
  close_fd(pipes_.stdin_fd);
  close_fd(pipes_.stdout_fd);
  close_fd(pipes_.stderr_fd);
  // Killing a server that already exited does nothing; one that closed its
  // stdout but lingers, or ignored the EOF on its stdin, must not outlive
  // its session.
  pipes_.kill();
  int status = pipes_.reap();
  std::string tail;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    tail = tail_.text();
  }
  std::string ending = describe_wait_status(status);
  if (!report) {
    spdlog::debug("{}stopped; it {}", prefix_, ending);
    return;
  }
  std::string why = "the server is gone (" + why_ + ", it " + ending + ")";
  if (auto last = last_lines(tail); !last.empty())
    why += "; its stderr ends: " + last;
  sink_.on_gone(mcp_errc::server_gone, std::move(why));
}

} // namespace troupe::mcp::detail
