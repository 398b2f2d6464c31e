#pragma once
// Builders for troupe::event values in tests.

#include <cstdint>
#include <string>
#include <utility>

#include "schemas/event.hpp"

namespace troupe::test {

/// The timestamp the event builders count from (2024-11-19, in µs).
inline constexpr int64_t base_ts_us = 1732000000000000;

/// An event of the top-level run `run` (its own root) at `seq`, stamped
/// `ts_us`.
inline event make_event(const std::string& run, uint32_t seq, event_body body,
                        int64_t ts_us) {
  event ev;
  ev.run_id = run;
  ev.seq = seq;
  ev.root_run_id = run;
  ev.ts_us = ts_us;
  ev.body = std::move(body);
  return ev;
}

/// The same, stamped `base_ts_us + seq`: one microsecond per event.
inline event make_event(const std::string& run, uint32_t seq, event_body body) {
  return make_event(run, seq, std::move(body), base_ts_us + seq);
}

} // namespace troupe::test
