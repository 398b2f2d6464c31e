#pragma once
// Runs other programs from tests: to completion with stdout and stderr
// captured, or in the background with stdout on a pipe (crash tests).
// POSIX only; uses posix_spawn, so it is safe in multi-threaded tests.

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace troupe::test {

struct command_result {
  /// The exit status, or 128 + the signal number when a signal ended it,
  /// or -1 when the program could not be started.
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] is a path, not looked up in PATH) with stdin from
/// /dev/null and waits for it.
[[nodiscard]] command_result run_command(const std::vector<std::string>& argv);

/// A background child whose stdout is the read end of a pipe.
struct child_process {
  pid_t pid = -1;
  int out_fd = -1; ///< owned by the caller; read_until and read_to_end use it
};

/// Starts `argv` with stdout on a pipe; stderr is inherited. Returns a child
/// with pid -1 when it could not be started.
[[nodiscard]] child_process spawn_with_stdout(const std::vector<std::string>& argv);

/// Appends to `out` what the child writes until `deadline` passes (or EOF).
void read_until(child_process& child, std::chrono::steady_clock::time_point deadline,
                std::string& out);

/// Appends everything up to EOF to `out` and closes the pipe.
void read_to_end(child_process& child, std::string& out);

/// Waits for the child and returns its exit code as in command_result.
int wait_for(child_process& child);

} // namespace troupe::test
