// `troupe serve`: the HTTP API over a durable job queue (serve/service.hpp).
// The main thread waits for signals: SIGHUP reloads the scenario directory,
// SIGTERM and SIGINT drain and exit.

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include "core/text_file.hpp"
#include "schemas/errors.hpp"
#include "serve/service.hpp"
#include "tools/troupe/commands.hpp"
#include "troupe/runtime.hpp"

namespace troupe::cli {

namespace {

// "HOST:PORT"; the port may be 0 (any free one: the chosen one is printed).
caf::error parse_listen(const std::string& text, net::http_server_options& http) {
  auto colon = text.rfind(':');
  auto bad = [&] {
    return caf::make_error(runtime_errc::invalid_arguments,
                           "--listen '" + text + "': expected HOST:PORT, e.g. 127.0.0.1:8080");
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return bad();
  char* end = nullptr;
  auto port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return bad();
  http.host = text.substr(0, colon);
  http.port = static_cast<uint16_t>(port);
  return {};
}

// Every connection and SSE stream is a file descriptor: take the hard
// limit, not the soft one (often 1,024), so the server's max_connections
// and a thousand subscribers are not cut short by the default.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
      spdlog::warn("serve: cannot raise the open-file limit to {}", lim.rlim_max);
  }
}

void print_problems(const std::vector<serve::catalog_problem>& problems) {
  for (auto& p : problems)
    std::fprintf(stderr, "troupe serve: not serving %s: %s\n", p.file.c_str(), p.error.c_str());
}

// The file's content without surrounding whitespace (a trailing newline is
// what editors and `echo` leave; Prometheus's credentials_file trims it too).
caf::expected<std::string> metrics_token(const std::string& path) {
  auto text = read_text_file(path, "metrics token file", "a file holding the bearer token");
  if (!text)
    return std::move(text.error());
  auto first = text->find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "--metrics-token-file " + path + ": the file is empty; put a "
                           "random token in it (e.g. `openssl rand -hex 32 > " + path + "`)");
  auto last = text->find_last_not_of(" \t\r\n");
  return text->substr(first, last - first + 1);
}

} // namespace

int serve(const serve_options& so) {
  net::http_server_options http;
  if (auto err = parse_listen(so.listen, http))
    return report(err);
  if (auto err = check_db_path(so.common.db))
    return report(err);
  // Signals are taken by sigwait on this thread only: block them before any
  // other thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT})
    sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  raise_fd_limit();

  runtime_options ro;
  ro.db_path = so.common.db;
  ro.secrets_file = so.secrets_file;
  ro.resume_on_first_start = false; // the queue resumes runs itself (recover)
  auto rt = runtime::create(ro);
  if (!rt)
    return report(rt.error());
  serve::service_options opts;
  opts.db_path = so.common.db;
  opts.scenarios_dir = so.scenarios;
  opts.http = http;
  opts.max_queued = so.max_queued;
  opts.dispatch.global_concurrency = so.concurrency;
  opts.dispatch.max_attempts = so.max_attempts;
  opts.dispatch.cancel_on_breach = so.cancel_on_breach;
  if (!so.metrics_token_file.empty()) {
    auto token = metrics_token(so.metrics_token_file);
    if (!token)
      return report(token.error());
    opts.metrics_token = std::move(*token);
  }
  auto svc = serve::service::start(**rt, opts);
  if (!svc)
    return report(svc.error());
  print_problems((*svc)->load_problems());
  std::string names;
  for (auto& n : (*svc)->scenario_names())
    names += (names.empty() ? "" : ", ") + n;
  std::printf("troupe serve: listening on http://%s:%u (scenarios: %s)\n", http.host.c_str(),
              (*svc)->port(), names.empty() ? "none" : names.c_str());
  std::fflush(stdout);
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      auto problems = (*svc)->reload();
      if (!problems) {
        report(problems.error());
        continue;
      }
      print_problems(*problems);
      spdlog::info("serve: scenarios reloaded ({} not served)", problems->size());
      continue;
    }
    std::fprintf(stderr, "troupe serve: draining (up to %u s)\n", so.drain_seconds);
    auto left = (*svc)->drain(std::chrono::seconds{so.drain_seconds});
    if (left > 0) {
      // Destroying the runtime would cancel them; the journal lets the next
      // start resume them instead, as after a crash.
      std::fprintf(stderr, "troupe serve: %zu jobs still running; they resume on the next start\n",
                   left);
      spdlog::shutdown();
      std::fflush(nullptr);
      std::_Exit(0);
    }
    svc->reset();
    return exit_ok;
  }
}

} // namespace troupe::cli
