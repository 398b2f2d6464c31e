#pragma once
// The server `troupe bench serve` measures: this same executable started as
// `troupe serve` in a child process, over a scratch journal and scenario
// directory the bench writes first (scenarios `bench`, three scripted turns
// that end by themselves, and `gated`, which waits for an approval), and one
// tenant with a submitter and an operator key.
//
// A child process rather than serve::service in this one: the memory per SSE
// subscriber is then the server's RSS alone, not mixed with the thousand
// client connections the bench itself holds; its CPU time is its own; and
// what is measured is the command as operators run it (argument parsing,
// signals, its default HTTP options). The child inherits this process's
// file-descriptor limit: raise it before `start`.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <sys/types.h>

namespace troupe::cli {

struct bench_server_options {
  std::string dir;           ///< a scratch directory, existing and empty
  uint32_t concurrency = 64; ///< `--concurrency`: jobs running at once
  size_t max_queued = 10000; ///< `--max-queued`
};

class bench_server {
public:
  /// Writes the scenarios and the tenant, starts `troupe serve` and waits
  /// (up to 30 s) for its "listening on" line. Errors (`runtime_errc::io_failed`)
  /// name the step and carry the server's stderr when it said something.
  [[nodiscard]] static caf::expected<std::unique_ptr<bench_server>>
  start(const bench_server_options& opts);

  /// Kills the server if `stop` was not called (a bench that failed).
  ~bench_server();
  bench_server(const bench_server&) = delete;
  bench_server& operator=(const bench_server&) = delete;

  [[nodiscard]] const std::string& base_url() const { return base_url_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& submitter_key() const { return submitter_key_; }
  [[nodiscard]] const std::string& operator_key() const { return operator_key_; }

  /// The server's resident set now, in KiB (0 once it has exited).
  [[nodiscard]] uint64_t rss_kib() const;
  /// The server's CPU time so far, user and system, in microseconds.
  [[nodiscard]] uint64_t cpu_us() const;

  /// SIGTERM, then waits for the exit; an error unless it exited 0.
  [[nodiscard]] caf::error stop();

private:
  bench_server() = default;
  [[nodiscard]] std::string stderr_text() const;

  std::string dir_;
  std::string base_url_;
  std::string submitter_key_, operator_key_;
  pid_t pid_ = -1;
  int out_fd_ = -1; ///< the child's stdout
};

} // namespace troupe::cli
