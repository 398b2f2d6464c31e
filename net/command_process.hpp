#pragma once
// Runs one local program for one model request: argv (never a shell), the
// request on stdin, stdout handed to the caller as it arrives, stderr's tail
// kept, deadlines enforced by killing, and a cancel that works from any
// thread. Blocks the calling thread: the gateway gives each command request
// in flight its own thread (at most the endpoint's max_concurrency).
//
// The child runs in its own process group with default signal dispositions,
// an empty signal mask and no inherited descriptors but 0, 1 and 2. Whenever
// the run ends (exit, deadline, cancel) the whole group gets SIGKILL, so
// helpers the program left behind neither outlive the request nor hold its
// pipes open, and the child is reaped before `run` returns: no zombies.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "core/providers/command_wire.hpp"

namespace troupe::net {

/// Deadlines and caps of one run; 0 disables a deadline.
struct command_limits {
  uint64_t total_ms = 600000;        ///< from the start to the end
  uint64_t first_output_ms = 60000;  ///< from the start to the first output
  uint64_t idle_ms = 30000;          ///< between two outputs (stdout or stderr)
  uint64_t stderr_tail_bytes = 4096; ///< the last bytes of stderr kept
  /// After a kill (or the program's exit), how long the pipes may still be
  /// drained; then whatever holds them is abandoned.
  uint64_t drain_ms = 2000;
};

/// What happened. `exit` is what core's `command_response` decides on.
struct command_outcome {
  command_exit exit;
  pid_t pid = -1;              ///< the child, already reaped; -1 when not started
  uint64_t elapsed_us = 0;     ///< start to end (reaped)
  uint64_t first_stdout_us = 0; ///< start to the first stdout byte; 0 when none
  uint64_t stdin_written = 0;  ///< bytes of stdin the program took
  bool stdin_complete = false; ///< all of it (false: it closed stdin early)
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;   ///< in total; the tail is in `exit.stderr_tail`
};

/// Called on the running thread with each piece of stdout as it is read.
using stdout_sink = std::function<void(std::string_view)>;

/// One run and its cancel handle. Not copyable or movable; keep it alive
/// until `run` has returned and no thread will call `cancel` any more.
class command_process {
public:
  command_process();
  ~command_process();
  command_process(const command_process&) = delete;
  command_process& operator=(const command_process&) = delete;

  /// Starts `argv` (argv[0] looked up in PATH when it has no '/') with the
  /// inherited environment plus `env` ("NAME=value", replacing a variable of
  /// the same name), writes `stdin_bytes` and closes stdin, and returns when
  /// the program has ended and been reaped. A program that stops reading
  /// stdin early is not an error by itself. Call at most once.
  [[nodiscard]] command_outcome run(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env,
                                    std::string_view stdin_bytes, const command_limits& limits,
                                    const stdout_sink& on_stdout);

  /// Any thread, any time, more than once: kills the program's group (or
  /// keeps it from starting); `run` then returns `command_end::canceled`,
  /// unless the program had already ended on its own, whose result stands.
  void cancel();

private:
  int cancel_fd_; // an eventfd, readable once canceled
};

} // namespace troupe::net
