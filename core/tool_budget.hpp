#pragma once
// How long a run waits for one tool call: never longer than the tool
// timeout, and never past the run's own deadline, so a call that hangs
// cannot keep a run alive beyond `deadline_ms`. Pure: the run actor asks,
// then waits.

#include <chrono>
#include <cstdint>
#include <string>

namespace troupe {

/// The wait for one tool call.
struct tool_wait {
  /// How long to wait for the answer; zero when the deadline has already
  /// passed, and then the call must not be started at all.
  std::chrono::milliseconds wait{0};
  /// True when what is left of the run's deadline, not the tool timeout,
  /// sets `wait`.
  bool cut_by_deadline = false;
};

/// The wait for a call starting at `now_us` in a run that started at
/// `started_us` (both microseconds of the run's clock) with the limit
/// `deadline_ms` (0: none): `tool_timeout`, or what is left of the deadline
/// rounded up to whole milliseconds when that is less. All arithmetic
/// saturates: any `deadline_ms` (up to 2^64-1), clock values or clock that
/// jumped back give a defined answer, never an overflow. A negative
/// `tool_timeout` counts as zero.
[[nodiscard]] tool_wait tool_wait_for(std::chrono::milliseconds tool_timeout,
                                      uint64_t deadline_ms, int64_t started_us,
                                      int64_t now_us) noexcept;

/// The failed tool result of a call whose wait `w` ended without an answer:
/// names the tool, the wait and what bounded it, and says that the outcome
/// is unknown.
[[nodiscard]] std::string tool_timeout_text(const std::string& tool, const tool_wait& w);

/// The failed tool result of a call that was not started because the run's
/// deadline had passed (`tool_wait_for` answered zero).
[[nodiscard]] std::string tool_not_started_text(const std::string& tool,
                                                uint64_t deadline_ms);

} // namespace troupe
