#pragma once
// Task tiers for the `tiers` strategy: each request is sorted into trivial,
// standard or complex, and each tier has its own route, so cheap local
// models take the easy work and strong ones the hard work. Pure: the
// classification reads only `tier_inputs` and `tier_rules`, and returns the
// reason with the tier, so the gateway journals both and `troupe show`
// explains it.
//
// The rules, in order; the first that matches decides:
//   1. declared        the task declared its tier: it wins.
//   2. keyword         a word of the task (ASCII case-insensitive, whole
//                      words) says hard work: prove, proof, theorem, design,
//                      refactor, architecture, migrate, optimize, debug,
//                      concurrency, algorithm, implement, investigate,
//                      trade-off, rewrite, multi-step, end-to-end (and their
//                      usual inflections), or the phrases "step by step",
//                      "root cause" → complex, reason `keyword "refactor"`.
//                      The first such word in the text is named.
//   3. multi-step      at least `complex_min_steps` step markers: lines that
//                      begin with a list item ("- ", "* ", "1.", "2)") and
//                      the words then, finally, afterwards → complex.
//   4. long task       the task text has ≥ `complex_min_task_bytes` bytes.
//   5. long conversation  ≥ `complex_min_conversation_bytes` so far: deep
//                      context wants a strong model (and a large window).
//   6. many tool results  ≥ `complex_min_tool_results` so far: long
//                      multi-step work is under way.
//   7. trivial         no tools offered, a task of at most
//                      `trivial_max_task_bytes`, turn ≤ `trivial_max_turn`
//                      and no tool result yet: a short question.
//   8. standard        everything else ("default").
// `tools_offered` counts the tools the model may act with; the caller
// leaves out troupe's own `complete`, which every run offers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe {

enum class task_tier : uint8_t { trivial, standard, complex };

[[nodiscard]] std::string_view to_string(task_tier t);
/// False on an unknown name.
[[nodiscard]] bool from_string(std::string_view name, task_tier& out);

struct tier_inputs {
  std::optional<task_tier> declared;
  std::string_view task; ///< the task text (the run's prompt)
  uint32_t tools_offered = 0;
  uint32_t turn = 0; ///< the run's turn, from 1
  uint64_t conversation_bytes = 0;
  uint32_t tool_results = 0;
};

struct tier_rules {
  size_t trivial_max_task_bytes = 280;
  uint32_t trivial_max_turn = 1;
  uint32_t complex_min_steps = 3;
  size_t complex_min_task_bytes = 4000;
  uint64_t complex_min_conversation_bytes = 64 * 1024;
  uint32_t complex_min_tool_results = 12;
};

struct tier_decision {
  task_tier tier = task_tier::standard;
  std::string reason;
};

/// The tier of a request, by the rules above. Pure.
[[nodiscard]] tier_decision classify_tier(const tier_inputs& in, const tier_rules& rules = {});

} // namespace troupe
