#include "sandbox/detail/sandbox_pump.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_exec.hpp"

namespace troupe::detail {

void drain(int& fd, std::string* keep, uint64_t* total, uint64_t cap) {
  char buf[65536];
  for (int i = 0; i < 16; ++i) { // bounded, so one stream cannot starve the rest
    auto n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n <= 0) {
      close_fd(fd);
      return;
    }
    *total += static_cast<uint64_t>(n);
    if (keep != nullptr && keep->size() < cap)
      keep->append(buf, static_cast<size_t>(
                          std::min<uint64_t>(static_cast<uint64_t>(n), cap - keep->size())));
  }
}

pump_result pump(pump_io io, std::string_view input, uint64_t cap, uint64_t timeout_ms,
                 const std::function<void()>& kill_all) {
  pump_result r;
  constexpr auto grace = std::chrono::seconds{2};
  auto deadline = timeout_ms == 0 ? clock_type::time_point::max()
                                  : clock_type::now()
                                      + std::chrono::milliseconds{timeout_ms};
  bool killed = false;
  auto kill_now = [&] {
    if (!killed)
      kill_all();
    killed = true;
    deadline = clock_type::now() + grace;
  };
  size_t written = 0;
  for (int* fd : {&io.in_w, &io.out_r, &io.err_r, &io.report_r})
    if (*fd >= 0)
      fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
  if (input.empty())
    close_fd(io.in_w);
  // With an anchor the call lasts until the anchor exits, even when it
  // closed its outputs earlier (coreutils close stdout before exiting; a kill
  // in between would turn their exit 0 into SIGKILL).
  while (io.out_r >= 0 || io.err_r >= 0 || io.report_r >= 0 || io.anchor >= 0) {
    pollfd fds[6];
    int* owners[6];
    nfds_t n = 0;
    auto add = [&](int& fd, short events) {
      if (fd >= 0) {
        fds[n] = {fd, events, 0};
        owners[n++] = &fd;
      }
    };
    add(io.in_w, POLLOUT);
    add(io.out_r, POLLIN);
    add(io.err_r, POLLIN);
    add(io.report_r, POLLIN);
    add(io.anchor, POLLIN);
    if (!killed)
      add(io.abort, POLLIN);
    auto now = clock_type::now();
    if (now >= deadline) {
      if (killed)
        break; // grace over: whatever still holds a pipe is abandoned
      r.timed_out = true;
      kill_now();
      continue;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int rc = poll(fds, n, static_cast<int>(std::min<int64_t>(wait + 1, 60000)));
    if (rc < 0 && errno != EINTR)
      break;
    for (nfds_t i = 0; rc > 0 && i < n; ++i) {
      if (fds[i].revents == 0)
        continue;
      int& fd = *owners[i];
      if (&fd == &io.in_w) {
        auto k = write(fd, input.data() + written, input.size() - written);
        if (k > 0)
          written += static_cast<size_t>(k);
        if ((k < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
          close_fd(io.in_w); // done, or the command stopped reading (EPIPE)
      } else if (&fd == &io.out_r) {
        drain(fd, &r.out, &r.out_total, cap);
      } else if (&fd == &io.err_r) {
        drain(fd, &r.err, &r.err_total, cap);
      } else if (&fd == &io.report_r) {
        uint64_t ignored = 0;
        drain(fd, &r.reports, &ignored, 1 << 16);
      } else if (&fd == &io.anchor) {
        close_fd(io.anchor);
        kill_now();
      } else if (&fd == &io.abort) {
        r.aborted = true;
        kill_now();
      }
    }
  }
  for (int* fd : {&io.in_w, &io.out_r, &io.err_r, &io.report_r, &io.anchor})
    close_fd(*fd);
  return r;
}

caf::expected<sandbox_result>
make_result(pump_result& pr, bool have_status, int status, const root_plan* plan,
            const exec_plan& ex, uint64_t cap, stage* failed) {
  auto reports = parse_reports(pr.reports);
  for (const auto& r : reports)
    if (r.kind == report_kind::setup_failed) {
      if (failed != nullptr)
        *failed = r.where;
      return sandbox_error(sandbox_errc::spawn_failed, describe_setup_failure(r, plan));
    }
  for (const auto& r : reports)
    if (r.kind == report_kind::exited) {
      have_status = true;
      status = r.status;
    }
  sandbox_result res;
  if (have_status && WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (have_status && WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
  } else if (pr.timed_out) {
    res.signal = SIGKILL;
  } else {
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: the sandbox of '" + ex.arg_storage.front()
                           + "' ended without reporting the command's status");
  }
  for (const auto& r : reports)
    if (r.kind == report_kind::exec_failed) {
      std::string msg = "troupe-sandbox: cannot execute '" + ex.arg_storage.front()
                        + "': " + errno_text(r.err) + "\n";
      pr.err.insert(0, msg);
      pr.err_total += msg.size();
    }
  res.timed_out = pr.timed_out;
  res.stdout_bytes_total = pr.out_total;
  res.stderr_bytes_total = pr.err_total;
  res.stdout_truncated = pr.out_total > cap;
  res.stderr_truncated = pr.err_total > cap;
  if (pr.err.size() > cap)
    pr.err.resize(cap);
  res.stdout_data = std::move(pr.out);
  res.stderr_data = std::move(pr.err);
  res.limit_breached = res.timed_out || res.signal == SIGXCPU || res.signal == SIGXFSZ
                       || res.signal == SIGKILL || res.stdout_truncated
                       || res.stderr_truncated;
  return res;
}

sigpipe_guard::sigpipe_guard() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

sigpipe_guard::~sigpipe_guard() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

} // namespace troupe::detail
