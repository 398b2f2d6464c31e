#include "sandbox/sandbox_process.hpp"

#include "schemas/errors.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/cold_sandbox.hpp"
#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_report.hpp"
#include "sandbox/detail/sandbox_request.hpp"

// The pieces of a sandbox live in sandbox/detail/ (troupe::detail):
// - sandbox_request: checking and normalizing requests, profile keys;
// - sandbox_root: planning and building the sandbox's filesystem;
// - sandbox_exec: the command child (rlimits, uid drop, seccomp, execve);
// - seccomp_filter: what the command's filter refuses, and its program;
// - sandbox_pump: the caller's side (stdin, capped output, timeout, result);
// - sandbox_report: the records children send about failed steps;
// - cold_sandbox: one new sandbox per call (what this file's calls use);
// - resident_sandbox: the long-lived sandbox of a pool worker.

namespace troupe {

namespace fs = std::filesystem;

using detail::clock_type;
using detail::errno_text;
using detail::micros_since;
using detail::sandbox_error;
using detail::stage;

isolation_probe probe_isolation() {
  isolation_probe out;
  for (const char* p : {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"})
    if (access(p, X_OK) == 0) {
      out.bubblewrap_found = true;
      out.bubblewrap_path = p;
      break;
    }
  pid_t ns = detail::raw_clone(detail::namespace_flags(false));
  if (ns == 0)
    _exit(0);
  if (ns < 0) {
    out.detail = "namespaces: clone(new pid, net, mount, ipc, uts namespaces): "
                 + errno_text(errno) + " (troupe must run as root)";
    return out;
  }
  while (waitpid(ns, nullptr, 0) < 0 && errno == EINTR) {
  }
  out.namespaces = true;
  char tmpl[] = "/tmp/troupe-probe-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    out.detail = std::string{"probe: mkdtemp in /tmp: "} + errno_text(errno);
    return out;
  }
  sandbox_request req;
  req.argv = {"probe"};
  req.writable_roots = {tmpl};
  req.limits.wall_timeout_ms = 10000;
  auto t0 = clock_type::now();
  stage failed = stage::none;
  auto norm = detail::normalize_request(req);
  caf::expected<sandbox_result> res{sandbox_result{}};
  if (norm)
    res = detail::run_cold(*norm, true, (norm->writable_roots.front() / ".troupe-probe").string(),
                   &failed);
  else
    res = std::move(norm.error());
  out.sandbox_start_us = micros_since(t0);
  std::error_code ec;
  fs::remove_all(tmpl, ec);
  if (res && res->exit_code == 0) {
    out.idmapped_mounts = true;
    out.uid_drop = true;
    return out;
  }
  std::string why = res ? "the probe exited with " + std::to_string(res->exit_code)
                            + " (signal " + std::to_string(res->signal) + ")"
                        : render(res.error());
  switch (failed) {
    case stage::drop_uid:
    case stage::set_rlimit:
      out.idmapped_mounts = true;
      out.detail = "uid drop: " + why;
      break;
    case stage::userns_helper:
    case stage::write_id_map:
    case stage::idmap_attr:
    case stage::probe_write:
      out.uid_drop = true;
      out.detail = "idmapped mounts: " + why;
      break;
    default:
      out.namespaces = false;
      out.detail = "sandbox root: " + why;
  }
  return out;
}

caf::expected<std::string> isolation_available() {
  static const isolation_probe probe = probe_isolation();
  if (probe.ok())
    return std::string{"namespaces"};
  return sandbox_error(sandbox_errc::unavailable,
                       "sandbox: process isolation is unavailable on this host: "
                         + probe.detail);
}

caf::expected<sandbox_result> run_sandboxed(const sandbox_request& req) {
  auto norm = detail::normalize_request(req);
  if (!norm)
    return std::move(norm.error());
  auto avail = isolation_available();
  if (!avail && !req.allow_unsandboxed)
    return sandbox_error(sandbox_errc::unavailable,
                         render(avail.error())
                           + "; refusing to run '" + req.argv.front()
                           + "' unsandboxed (the request does not set allow_unsandboxed)");
  return detail::run_cold(*norm, static_cast<bool>(avail), {});
}

} // namespace troupe
