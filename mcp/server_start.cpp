#include "mcp/server_start.hpp"

#include <chrono>
#include <thread>

#include <sys/wait.h>

#include "core/mcp/mcp_errc.hpp"
#include "sandbox/read_only_roots.hpp"
#include "sandbox/sandboxed_child.hpp"
#include "schemas/errors.hpp"

namespace troupe::mcp {

namespace {

// /usr/local/bin first: where npm and pip put the servers they install.
constexpr const char* sandbox_path = "/usr/local/bin:/usr/bin:/bin";

int wait_status_of(const child_exit& e) {
  if (e.signal != 0)
    return W_EXITCODE(0, e.signal) | e.signal;
  return W_EXITCODE(e.exit_code < 0 ? 125 : e.exit_code, 0);
}

session_options options_of(const server_setup& setup) {
  session_options o;
  o.name = setup.config.name;
  o.startup_timeout = std::chrono::milliseconds{setup.config.startup_timeout_ms};
  return o;
}

caf::expected<std::unique_ptr<session>> start_stdio(const server_setup& setup,
                                                    session_events events) {
  auto started = sandboxed_child::start(stdio_request(setup));
  if (!started)
    return caf::make_error(mcp_errc::start_failed, "mcp server '" + setup.config.name
                                                     + "': " + render(started.error()));
  std::shared_ptr<sandboxed_child> child = std::move(*started);
  stdio_pipes pipes;
  pipes.stdin_fd = child->release_stdin();
  pipes.stdout_fd = child->release_stdout();
  pipes.stderr_fd = child->release_stderr();
  // The session kills when the server's stdout closed: usually because it
  // exited, and its own status says more than our SIGKILL would.
  pipes.kill = [child] {
    child_exit how;
    for (int i = 0; i < 50 && !child->try_wait(how); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    child->kill();
  };
  pipes.reap = [child] { return wait_status_of(child->wait()); };
  auto opened = session::open_stdio(std::move(pipes), options_of(setup), std::move(events));
  if (!opened) {
    // A sandbox step or an exec that failed says more than "server gone".
    child_exit how;
    if (child->try_wait(how) && !how.failure.empty())
      return caf::make_error(mcp_errc::start_failed,
                             "mcp server '" + setup.config.name + "': " + how.failure);
  }
  return opened;
}

} // namespace

sandbox_request stdio_request(const server_setup& setup) {
  sandbox_request req;
  req.argv = setup.config.command;
  req.cwd = setup.workspace;
  req.writable_roots = {setup.workspace};
  req.read_only_roots = setup.config.read_only.empty()
                          ? default_read_only_roots(req.argv, sandbox_path)
                          : setup.config.read_only;
  req.network = setup.network;
  req.allow_unsandboxed = setup.unsandboxed;
  req.limits = setup.config.limits;
  req.limits.wall_timeout_ms = 0;
  req.env = setup.env;
  req.env["PATH"] = sandbox_path;
  req.env["HOME"] = "/tmp";
  req.env["LANG"] = "C.UTF-8";
  return req;
}

caf::expected<std::unique_ptr<session>> start_server(const server_setup& setup,
                                                     session_events events) {
  if (!setup.config.command.empty())
    return start_stdio(setup, std::move(events));
  if (!setup.http)
    return caf::make_error(mcp_errc::start_failed,
                           "mcp server '" + setup.config.name + "': no HTTP client");
  net::http_headers extra;
  if (!setup.bearer_token.empty())
    extra.emplace_back("Authorization", "Bearer " + setup.bearer_token);
  return session::open_http(setup.config.url, std::move(extra), *setup.http,
                            options_of(setup), std::move(events));
}

} // namespace troupe::mcp
