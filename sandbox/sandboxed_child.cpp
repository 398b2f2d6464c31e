#include "sandbox/sandboxed_child.hpp"

#include "schemas/errors.hpp"

#include <cerrno>
#include <csignal>
#include <future>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_launch.hpp"
#include "sandbox/detail/sandbox_report.hpp"
#include "sandbox/detail/sandbox_request.hpp"
#include "sandbox/detail/sandboxed_child_internal.hpp"

// The watcher thread launches the sandbox (so the command's uid and the
// init's parent-death signal belong to a thread that lives exactly as long
// as the sandbox), then waits for the init without reaping it (WNOWAIT),
// and reaps it under the mutex: `kill` signals only while the pid is
// still ours, so a recycled pid is never hit.

namespace troupe {

namespace {

using detail::errno_text;
using detail::sandbox_error;

// What is left in the report pipe: the writers are gone, so everything they
// wrote is there and a non-blocking read never waits for more.
std::string read_reports(int fd) {
  std::string bytes;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  char buf[4096];
  for (;;) {
    auto n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return bytes;
    bytes.append(buf, static_cast<size_t>(n));
  }
}

// `have_status`: `status` is the reaped process's wait status (the init's,
// or without isolation the command's).
child_exit describe_exit(const detail::launched_sandbox& l, bool have_status, int status) {
  child_exit out;
  const auto& argv0 = l.exec.arg_storage.front();
  auto reports = detail::parse_reports(read_reports(l.report_r.get()));
  for (const auto& r : reports)
    if (r.kind == detail::report_kind::setup_failed) {
      out.failure = detail::describe_setup_failure(r, l.isolated ? &l.root : nullptr);
      return out;
    }
  bool from_report = false;
  for (const auto& r : reports)
    if (r.kind == detail::report_kind::exited) {
      from_report = true;
      have_status = true;
      status = r.status;
    }
  if (have_status && WIFEXITED(status) && (from_report || !l.isolated)) {
    out.exit_code = WEXITSTATUS(status);
  } else if (have_status && WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status); // the command's, or the init's (killed)
  } else if (have_status) {
    out.failure = "sandbox: the sandbox init of '" + argv0 + "' exited with "
                  + std::to_string(WEXITSTATUS(status))
                  + " without reporting the command's status";
    return out;
  } else {
    out.failure = "sandbox: the wait status of '" + argv0
                  + "' was lost (is SIGCHLD ignored in this process?)";
    return out;
  }
  // The command child exits 127 or 126 right after a failed exec; say so
  // even when a kill reached the init before it could report that status.
  for (const auto& r : reports)
    if (r.kind == detail::report_kind::exec_failed) {
      out.failure = "troupe-sandbox: cannot execute '" + argv0 + "': " + errno_text(r.err);
      out.exit_code = r.err == ENOENT ? 127 : 126;
      out.signal = 0;
    }
  return out;
}

int take(int& fd) {
  return std::exchange(fd, -1);
}

void close_if_open(int& fd) {
  if (fd >= 0)
    close(fd);
  fd = -1;
}

} // namespace

caf::expected<std::unique_ptr<sandboxed_child>>
sandboxed_child::start(const sandbox_request& req) {
  auto avail = isolation_available();
  if (!avail && !req.allow_unsandboxed)
    return sandbox_error(sandbox_errc::unavailable,
                         render(avail.error()) + "; refusing to start '"
                           + (req.argv.empty() ? std::string{} : req.argv.front())
                           + "' unsandboxed (the request does not set allow_unsandboxed)");
  return detail::sandboxed_child_internal::start(req, static_cast<bool>(avail));
}

sandboxed_child::~sandboxed_child() {
  kill();
  if (watcher_.joinable())
    watcher_.join();
  close_if_open(in_);
  close_if_open(out_);
  close_if_open(err_);
  close_if_open(pidfd_);
}

int sandboxed_child::release_stdin() {
  return take(in_);
}

int sandboxed_child::release_stdout() {
  return take(out_);
}

int sandboxed_child::release_stderr() {
  return take(err_);
}

void sandboxed_child::close_stdin() {
  close_if_open(in_);
}

void sandboxed_child::kill() {
  std::lock_guard<std::mutex> lock{mu_};
  if (reaped_ || pid_ < 0)
    return;
  if (pidfd_ < 0 || syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0) != 0)
    ::kill(pid_, SIGKILL);
  if (!isolated_)
    ::kill(-pid_, SIGKILL); // the child leads its process group
}

child_exit sandboxed_child::wait() {
  std::unique_lock<std::mutex> lock{mu_};
  done_cv_.wait(lock, [this] { return done_; });
  return exit_;
}

bool sandboxed_child::try_wait(child_exit& out) {
  std::lock_guard<std::mutex> lock{mu_};
  if (done_)
    out = exit_;
  return done_;
}

// The watcher thread, after a successful launch.
void sandboxed_child::watch(detail::launched_sandbox& l) {
  siginfo_t info{};
  int rc = 0;
  while ((rc = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT)) < 0
         && errno == EINTR) {
  }
  int status = 0;
  bool have_status = false;
  {
    std::lock_guard<std::mutex> lock{mu_};
    // The exited leader still holds its pid, so the group cannot be reused
    // yet: kill what the command left in it (the pid namespace needs no
    // such help: the init's exit killed it).
    if (!isolated_)
      ::kill(-pid_, SIGKILL);
    pid_t w = -1;
    while ((w = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    have_status = rc == 0 && w == pid_;
    reaped_ = true;
  }
  auto result = describe_exit(l, have_status, status);
  {
    std::lock_guard<std::mutex> lock{mu_};
    exit_ = std::move(result);
    done_ = true;
  }
  done_cv_.notify_all();
}

namespace detail {

caf::expected<std::unique_ptr<sandboxed_child>>
sandboxed_child_internal::start(const sandbox_request& req, bool isolate) {
  auto norm = normalize_request(req);
  if (!norm)
    return std::move(norm.error());
  if (!norm->stdin_data.empty())
    return sandbox_error(sandbox_errc::invalid_request,
                         "sandbox: a sandboxed child of '" + norm->argv.front()
                           + "' takes no stdin_data; write to its stdin pipe instead");
  std::unique_ptr<sandboxed_child> child{new sandboxed_child()};
  auto* c = child.get();
  c->isolated_ = isolate;
  c->isolation_ = isolate ? "namespaces" : "none";
  std::promise<caf::error> started;
  auto launched_future = started.get_future();
  try {
    c->watcher_ = std::thread{[c, isolate, req = std::move(*norm), &started] {
      auto l = launch_sandbox(req, isolate, {});
      if (!l) {
        started.set_value(std::move(l.error()));
        return;
      }
      c->pid_ = l->pid;
      c->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, l->pid, 0));
      c->in_ = l->in_w.release();
      c->out_ = l->out_r.release();
      c->err_ = l->err_r.release();
      started.set_value(caf::none); // `started` may be gone after this
      c->watch(*l);
    }};
  } catch (const std::system_error& e) {
    return sandbox_error(sandbox_errc::spawn_failed,
                         "sandbox: starting the watcher thread for '" + req.argv.front()
                           + "': " + e.what());
  }
  auto err = launched_future.get();
  if (err) {
    c->watcher_.join();
    return err;
  }
  return child;
}

} // namespace detail

} // namespace troupe
