#pragma once
// The load of `troupe bench gateway` and what it measures: the request every
// slot sends, the per-request log of a phase, and the figures drawn from it
// (bench_gateway.cpp runs the phases).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_provider.hpp"
#include "tools/troupe/bench_gateway_server.hpp"

namespace troupe::cli {

struct load_plan {
  uint64_t concurrency = 1; ///< slots, each with one request in flight
  uint64_t warmup = 0;      ///< the first requests, not measured
  uint64_t measured = 0;
  uint64_t first_id = 0;    ///< the server's number of the phase's first request
  /// Between the start of one slot and the next.
  std::chrono::microseconds stagger{0};

  [[nodiscard]] uint64_t total() const { return warmup + measured; }
};

/// A model request as a run sends it: a system prompt, the task (which
/// carries `number` after bench_stream_server::marker), and two tools.
[[nodiscard]] model_call bench_call(const std::string& number);

/// One phase, per request (index 0..total-1). Each slot is written by one
/// thread at a time; read after the phase ended.
struct phase_log {
  using clock_type = std::chrono::steady_clock;

  explicit phase_log(uint64_t total) : start_us(total), end_us(total), ok(total) {}

  void begin() { t0 = clock_type::now(); }
  void started(uint64_t i) { start_us[i] = since_t0(); }
  void ended(uint64_t i, bool success) {
    end_us[i] = since_t0();
    ok[i] = success;
  }

  clock_type::time_point t0;
  std::vector<int64_t> start_us, end_us; ///< from t0
  std::vector<uint8_t> ok;
  uint64_t idle_kib = 0; ///< resident before the phase (runtime started, idle)
  uint64_t peak_kib = 0; ///< the peak during the phase
  /// CPU time of the whole process (the server's threads too) over the
  /// phase, user and system: what one request costs on a busy machine.
  uint64_t cpu_us = 0;

private:
  [[nodiscard]] int64_t since_t0() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0)
      .count();
  }
};

struct phase_figures {
  /// Replies per second while every slot had a request in flight.
  double requests_per_s = 0;
  int64_t e2e_p50_us = 0, e2e_p99_us = 0;
  int64_t server_p50_us = 0, server_p99_us = 0;
  int64_t added_p50_us = 0, added_p99_us = 0; ///< end to end minus the server's own
  uint64_t idle_kib = 0, peak_kib = 0;
  double kib_per_in_flight = 0; ///< (peak - idle) / concurrency
  uint64_t failed = 0;          ///< over all requests, the warm-up's too
  double cpu_us_per_request = 0; ///< over all requests, the warm-up's too
};

[[nodiscard]] phase_figures summarize(const phase_log& log, const load_plan& plan,
                                      const bench_stream_server& server);

} // namespace troupe::cli
