#pragma once
// The caller's side of a sandboxed call: feeding stdin, collecting capped
// stdout and stderr and the children's reports, enforcing the wall timeout
// by killing, and turning what it saw into a `sandbox_result`.

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "sandbox/detail/sandbox_report.hpp"
#include "core/sandbox_spec.hpp"

namespace troupe::detail {

struct exec_plan;
struct root_plan;

struct pump_io {
  int in_w = -1;
  int out_r = -1;
  int err_r = -1;
  int report_r = -1;
  int anchor = -1; // pidfd: readable when the command's main process exits
  int abort = -1;  // readable when whoever waits for the result has gone
};

struct pump_result {
  std::string out;
  std::string err;
  std::string reports;
  uint64_t out_total = 0;
  uint64_t err_total = 0;
  bool timed_out = false;
  bool aborted = false;
};

/// Reads what is available, keeping up to `cap` bytes in `keep` and counting
/// all; closes `fd` at EOF or on an error.
void drain(int& fd, std::string* keep, uint64_t* total, uint64_t cap);

/// Runs until stdout, stderr and the report pipe reach EOF and the anchor (if
/// any) has exited. `kill_all` ends every process of the call: at the
/// deadline, when the anchor exits (so background processes cannot hold the
/// pipes open), and on abort. After a kill, draining gets a grace period and
/// then gives up, so this never hangs. Closes every fd of `io` but `abort`.
[[nodiscard]] pump_result pump(pump_io io, std::string_view input, uint64_t cap,
                               uint64_t timeout_ms,
                               const std::function<void()>& kill_all);

/// Turns what the pump saw and the command's wait status into a result, or
/// the setup failure the children reported (its stage in `failed`, when not
/// null). `plan` names the root step of a failure; it may be null.
[[nodiscard]] caf::expected<sandbox_result>
make_result(pump_result& pr, bool have_status, int status, const root_plan* plan,
            const exec_plan& ex, uint64_t cap, stage* failed = nullptr);

/// Blocks SIGPIPE for the calling thread while it writes stdin to a command
/// that may have exited, and discards one that became pending meanwhile.
class sigpipe_guard {
public:
  sigpipe_guard();
  ~sigpipe_guard();
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
  sigset_t old_;
};

} // namespace troupe::detail
