#pragma once
// Random scenarios for the property test (property_test.cpp): one per run,
// from a seeded std::mt19937. Echo calls with random arguments, file writes
// and reads in the run's workspace, text-only replies, provider failures,
// malformed and empty raw arguments, unknown tools, `complete` somewhere or
// nowhere (the script then runs out), and small random limits.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "core/scenario.hpp"

namespace troupe::test {

/// The same (seed, index) always gives the same scenario.
class scenario_generator {
public:
  scenario_generator(uint64_t seed, size_t index);

  /// A scenario for run `index`, its workspace under `ws_base`.
  scenario make(size_t index, const std::filesystem::path& ws_base);

private:
  int pick(int lo, int hi);
  bool chance(double p);

  std::string word();
  run_limits make_limits();
  std::string file_name();
  scripted_tool_call echo_call();
  scripted_tool_call write_call();
  scripted_tool_call read_call();
  scripted_tool_call list_call();
  scripted_tool_call malformed_call();
  scripted_tool_call unknown_call();
  scripted_tool_call complete_call();
  scripted_reply make_reply();

  std::mt19937 rng_;
  uint64_t next_id_ = 1;
};

} // namespace troupe::test
