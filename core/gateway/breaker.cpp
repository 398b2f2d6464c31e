#include "core/gateway/breaker.hpp"

#include <algorithm>
#include <array>

#include "core/saturating_time.hpp"

namespace troupe {

namespace {

constexpr std::array<std::string_view, 3> state_names{"closed", "open", "half_open"};

std::optional<breaker_transition> open(breaker& b, int64_t now_us, int64_t cool_down_us,
                                       std::string reason) {
  breaker_transition t{b.state, breaker_state::open, std::move(reason), 0};
  b.state = breaker_state::open;
  b.probe_in_flight = false;
  b.open_until_us = add_us(now_us, std::max<int64_t>(cool_down_us, 0));
  t.open_until_us = b.open_until_us;
  return t;
}

std::optional<breaker_transition> open_again(breaker& b, int64_t now_us,
                                             const breaker_config& cfg, std::string reason) {
  ++b.opens;
  return open(b, now_us, cool_down_of(b.opens, cfg), std::move(reason));
}

std::optional<breaker_transition> record_closed(breaker& b, const breaker_signal& s,
                                                int64_t now_us, const breaker_config& cfg) {
  if (s.what != breaker_signal::kind::failure)
    return std::nullopt;
  if (s.consecutive_failures >= cfg.failure_threshold)
    return open_again(b, now_us, cfg, "consecutive failures");
  if (b.samples >= cfg.min_requests && s.error_rate > cfg.error_rate_threshold)
    return open_again(b, now_us, cfg, "error rate");
  return std::nullopt;
}

std::optional<breaker_transition> record_probe(breaker& b, const breaker_signal& s,
                                               int64_t now_us, const breaker_config& cfg) {
  switch (s.what) {
    case breaker_signal::kind::success:
      b = breaker{};
      return breaker_transition{breaker_state::half_open, breaker_state::closed,
                                "probe succeeded", 0};
    case breaker_signal::kind::failure:
      return open_again(b, now_us, cfg, "probe failed");
    case breaker_signal::kind::neutral:
    case breaker_signal::kind::quota: // handled before
      b.probe_in_flight = false;
      return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

std::string_view to_string(breaker_state s) {
  return state_names[static_cast<size_t>(s)];
}

bool from_string(std::string_view name, breaker_state& out) {
  for (size_t i = 0; i < state_names.size(); ++i)
    if (state_names[i] == name) {
      out = static_cast<breaker_state>(i);
      return true;
    }
  return false;
}

int64_t cool_down_of(uint32_t opens, const breaker_config& cfg) {
  auto base = std::max<int64_t>(cfg.cool_down_us, 0);
  auto cap = std::max(cfg.max_cool_down_us, base);
  // Double until the cap; stop before the shift could overflow.
  int64_t cd = base;
  for (uint32_t i = 1; i < opens && cd < cap; ++i)
    cd = cd > cap / 2 ? cap : cd * 2;
  return std::min(cd, cap);
}

bool admits(const breaker& b, int64_t now_us) {
  switch (b.state) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      return now_us >= b.open_until_us;
    case breaker_state::half_open:
      return !b.probe_in_flight;
  }
  return false;
}

std::optional<breaker_transition> end_cool_down(breaker& b, int64_t now_us) {
  if (b.state != breaker_state::open || now_us < b.open_until_us)
    return std::nullopt;
  b.state = breaker_state::half_open;
  b.probe_in_flight = false;
  return breaker_transition{breaker_state::open, breaker_state::half_open,
                            "cool-down elapsed", 0};
}

bool take_probe(breaker& b) {
  if (b.state != breaker_state::half_open || b.probe_in_flight)
    return false;
  b.probe_in_flight = true;
  return true;
}

std::optional<breaker_transition> record_outcome(breaker& b, const breaker_signal& s,
                                                 int64_t now_us, const breaker_config& cfg) {
  if (s.what != breaker_signal::kind::neutral)
    b.samples = b.samples == UINT32_MAX ? b.samples : b.samples + 1;
  if (s.what == breaker_signal::kind::quota) {
    if (b.state == breaker_state::open) {
      // Already open: a spent quota keeps it open at least the quota cool-down.
      b.open_until_us = std::max(b.open_until_us, add_us(now_us, cfg.quota_cool_down_us));
      return std::nullopt;
    }
    ++b.opens;
    return open(b, now_us, cfg.quota_cool_down_us, "quota exhausted");
  }
  switch (b.state) {
    case breaker_state::closed:
      return record_closed(b, s, now_us, cfg);
    case breaker_state::half_open:
      // A request sent before the breaker opened tells nothing about now.
      return s.probe ? record_probe(b, s, now_us, cfg) : std::nullopt;
    case breaker_state::open:
      return std::nullopt;
  }
  return std::nullopt;
}

} // namespace troupe
