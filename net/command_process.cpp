#include "net/command_process.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/detail/command_spawn.hpp"

namespace troupe::net {

namespace {

using detail::child_pipes;
using detail::close_fd;
using detail::errno_text;

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

uint64_t us_between(clock_type::time_point a, clock_type::time_point b) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

// One started child: the loop that feeds stdin, reads stdout and stderr,
// watches the deadlines, the child's exit and the cancel fd.
class session {
public:
  session(pid_t pid, child_pipes& p, int cancel_fd, std::string_view input,
          const command_limits& limits, const stdout_sink& sink, command_outcome& out)
    : pid_(pid), pipes_(p), cancel_fd_(cancel_fd), input_(input), limits_(limits),
      sink_(sink), out_(out), start_(clock_type::now()), last_output_(start_) {
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    out_.stdin_complete = input_.empty();
    if (input_.empty())
      close_fd(pipes_.in_w);
  }

  ~session() { close_fd(pidfd_); }

  /// Runs to the end and reaps the child.
  void run() {
    while (pipes_.out_r >= 0 || pipes_.err_r >= 0 || !exited_) {
      auto now = clock_type::now();
      if (now >= deadline()) {
        if (ending_)
          break; // drained long enough: whatever still holds a pipe is abandoned
        time_out(now);
        continue;
      }
      wait_once(now);
      if (pidfd_ < 0 && !exited_)
        check_exit();
    }
    for (int* fd : {&pipes_.in_w, &pipes_.out_r, &pipes_.err_r})
      close_fd(*fd);
    reap();
  }

private:
  clock_type::time_point deadline() const {
    if (ending_)
      return drain_until_;
    auto d = clock_type::time_point::max();
    if (limits_.total_ms != 0)
      d = std::min(d, start_ + milliseconds{limits_.total_ms});
    uint64_t idle = saw_output_ ? limits_.idle_ms : limits_.first_output_ms;
    if (idle != 0)
      d = std::min(d, last_output_ + milliseconds{idle});
    return d;
  }

  void wait_once(clock_type::time_point now) {
    pollfd fds[5];
    int* owners[5];
    nfds_t n = 0;
    auto add = [&](int& fd, short events) {
      if (fd >= 0) {
        fds[n] = {fd, events, 0};
        owners[n++] = &fd;
      }
    };
    add(pipes_.in_w, POLLOUT);
    add(pipes_.out_r, POLLIN);
    add(pipes_.err_r, POLLIN);
    if (!exited_)
      add(pidfd_, POLLIN);
    if (!ending_)
      add(cancel_fd_, POLLIN);
    auto left = std::chrono::duration_cast<milliseconds>(deadline() - now).count() + 1;
    if (pidfd_ < 0 && !exited_)
      left = std::min<int64_t>(left, 20); // no pidfd: look at the child now and then
    int rc = poll(fds, n, static_cast<int>(std::min<int64_t>(left, 60000)));
    for (nfds_t i = 0; rc > 0 && i < n; ++i) {
      if (fds[i].revents == 0)
        continue;
      int* fd = owners[i];
      if (fd == &pipes_.in_w)
        write_stdin();
      else if (fd == &pipes_.out_r)
        read_stdout();
      else if (fd == &pipes_.err_r)
        read_stderr();
      else if (fd == &pidfd_)
        child_exited();
      else if (fd == &cancel_fd_)
        end_by(command_end::canceled, "canceled");
    }
  }

  void write_stdin() {
    auto chunk = std::min<size_t>(input_.size() - written_, 65536);
    auto k = ::write(pipes_.in_w, input_.data() + written_, chunk);
    if (k > 0)
      written_ += static_cast<size_t>(k);
    out_.stdin_written = written_;
    out_.stdin_complete = written_ == input_.size();
    // Done, or the program closed its stdin (EPIPE): either way no more input.
    if (out_.stdin_complete || (k < 0 && errno != EAGAIN && errno != EINTR))
      close_fd(pipes_.in_w);
  }

  template <class Take>
  void drain(int& fd, Take&& take) {
    char buf[65536];
    for (int i = 0; i < 16; ++i) { // bounded, so one stream cannot starve the other
      auto k = ::read(fd, buf, sizeof buf);
      if (k < 0 && errno == EINTR)
        continue;
      if (k < 0 && errno == EAGAIN)
        return;
      if (k <= 0) {
        close_fd(fd);
        return;
      }
      last_output_ = clock_type::now();
      saw_output_ = true;
      take(std::string_view{buf, static_cast<size_t>(k)});
    }
  }

  void read_stdout() {
    drain(pipes_.out_r, [&](std::string_view bytes) {
      if (out_.stdout_bytes == 0)
        out_.first_stdout_us = us_between(start_, last_output_);
      out_.stdout_bytes += bytes.size();
      sink_(bytes);
    });
  }

  void read_stderr() {
    auto cap = limits_.stderr_tail_bytes;
    drain(pipes_.err_r, [&](std::string_view bytes) {
      out_.stderr_bytes += bytes.size();
      auto& tail = out_.exit.stderr_tail;
      tail.append(bytes);
      if (tail.size() > 2 * cap + 65536) // trimmed now and then, not per read
        tail.erase(0, tail.size() - cap);
    });
  }

  void time_out(clock_type::time_point now) {
    if (limits_.total_ms != 0 && now >= start_ + milliseconds{limits_.total_ms})
      end_by(command_end::timed_out,
             "no end within the total limit of " + std::to_string(limits_.total_ms) + " ms");
    else if (saw_output_)
      end_by(command_end::timed_out,
             "no output for " + std::to_string(limits_.idle_ms) + " ms (idle limit)");
    else
      end_by(command_end::timed_out, "no output within " + std::to_string(limits_.first_output_ms)
                                       + " ms (first output limit)");
  }

  // Kills the group for `why`; what the program had written can still be
  // read during the drain time.
  void end_by(command_end why, std::string detail) {
    if (ending_ && killed_for_ != command_end::exited)
      return;
    killed_for_ = why;
    kill_detail_ = std::move(detail);
    kill_group();
  }

  void child_exited() {
    exited_ = true;
    close_fd(pidfd_);
    // Helpers it left in its group would keep the pipes open: end them too.
    // The child is a zombie until reaped, so its pid (the group id) is not reused.
    if (!ending_)
      kill_group();
  }

  void check_exit() {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0
        && info.si_pid == pid_)
      child_exited();
  }

  void kill_group() {
    ::kill(-pid_, SIGKILL);
    ending_ = true;
    drain_until_ = clock_type::now() + milliseconds{limits_.drain_ms};
    close_fd(pipes_.in_w);
  }

  void reap() {
    if (!ending_)
      kill_group();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    auto& ex = out_.exit;
    bool killed_by_us = killed_for_ != command_end::exited && WIFSIGNALED(status)
                        && WTERMSIG(status) == SIGKILL;
    if (killed_by_us) {
      ex.end = killed_for_;
      ex.status = SIGKILL;
      ex.detail = kill_detail_;
    } else if (WIFSIGNALED(status)) {
      ex.end = command_end::signaled;
      ex.status = WTERMSIG(status);
    } else {
      ex.end = command_end::exited;
      ex.status = WEXITSTATUS(status);
    }
    auto& tail = ex.stderr_tail;
    if (tail.size() > limits_.stderr_tail_bytes)
      tail.erase(0, tail.size() - limits_.stderr_tail_bytes);
  }

  pid_t pid_;
  child_pipes& pipes_;
  int cancel_fd_;
  int pidfd_ = -1;
  std::string_view input_;
  size_t written_ = 0;
  const command_limits& limits_;
  const stdout_sink& sink_;
  command_outcome& out_;
  clock_type::time_point start_;
  clock_type::time_point last_output_;
  clock_type::time_point drain_until_;
  bool saw_output_ = false;
  bool exited_ = false;
  bool ending_ = false;
  command_end killed_for_ = command_end::exited; // exited: not killed for a reason
  std::string kill_detail_;
};

} // namespace

command_process::command_process()
  : cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
}

command_process::~command_process() {
  if (cancel_fd_ >= 0)
    ::close(cancel_fd_);
}

void command_process::cancel() {
  uint64_t one = 1;
  // Fails only when the counter would overflow: canceled already.
  [[maybe_unused]] auto ignored = ::write(cancel_fd_, &one, sizeof one);
}

command_outcome command_process::run(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     std::string_view stdin_bytes,
                                     const command_limits& limits,
                                     const stdout_sink& on_stdout) {
  command_outcome out;
  auto start = clock_type::now();
  auto not_started = [&](command_end end, std::string detail) {
    out.exit.end = end;
    out.exit.detail = std::move(detail);
    out.elapsed_us = us_between(start, clock_type::now());
    return out;
  };
  if (cancel_fd_ < 0)
    return not_started(command_end::not_started,
                       "command provider: cannot create the cancel eventfd");
  if (argv.empty() || argv.front().empty())
    return not_started(command_end::not_started, "command provider: the command is empty");
  if (readable_now(cancel_fd_))
    return not_started(command_end::canceled, "canceled before the command started");
  child_pipes pipes;
  if (int err = pipes.open())
    return not_started(command_end::not_started,
                       "command provider: cannot create pipes: " + errno_text(err));
  pid_t pid = -1;
  int err = detail::spawn_child(argv, env, pipes, pid);
  pipes.close_child_ends();
  if (err != 0)
    return not_started(command_end::not_started,
                       "command provider: cannot start '" + argv.front() + "': "
                         + errno_text(err));
  out.pid = pid;
  {
    detail::sigpipe_guard guard;
    session s{pid, pipes, cancel_fd_, stdin_bytes, limits, on_stdout, out};
    s.run();
  }
  out.elapsed_us = us_between(start, clock_type::now());
  return out;
}

} // namespace troupe::net
