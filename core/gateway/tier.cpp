#include "core/gateway/tier.hpp"

#include <array>
#include <vector>

namespace troupe {

namespace {

constexpr std::array<std::string_view, 3> tier_names{"trivial", "standard", "complex"};

// Whole words only: a stem would also match "provenance" or "planet".
constexpr std::array<std::string_view, 48> complex_words{
  "prove",         "proves",        "proving",      "proof",         "proofs",
  "theorem",       "design",        "designs",      "designing",     "redesign",
  "refactor",      "refactors",     "refactoring",  "architecture",  "architectural",
  "architect",     "migrate",       "migrating",    "migration",     "optimize",
  "optimise",      "optimizing",    "optimising",   "optimization",  "optimisation",
  "debug",         "debugging",     "concurrency",  "concurrent",    "algorithm",
  "algorithms",    "implement",     "implementing", "implementation", "investigate",
  "investigation", "trade-off",     "trade-offs",   "tradeoff",      "tradeoffs",
  "rewrite",       "multi-step",    "multistep",    "end-to-end",    "reimplement",
  "refactored",    "designed",      "migrated",
};

constexpr std::array<std::string_view, 3> step_words{"then", "finally", "afterwards"};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/// Lowercase ASCII words, hyphens kept inside ("trade-off"), trimmed at the ends.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    auto b = w.find_first_not_of('-');
    if (b != std::string::npos)
      out.push_back(w.substr(b, w.find_last_not_of('-') - b + 1));
    w.clear();
  };
  for (char raw : text) {
    char c = lower(raw);
    if (word_char(c))
      w += c;
    else
      flush();
  }
  flush();
  return out;
}

template <size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view w) {
  for (auto s : set)
    if (s == w)
      return true;
  return false;
}

/// The first complex keyword or phrase in text order, or "".
std::string first_keyword(const std::vector<std::string>& words) {
  for (size_t i = 0; i < words.size(); ++i) {
    if (one_of(complex_words, words[i]))
      return words[i];
    if (i + 2 < words.size() && words[i] == "step" && words[i + 1] == "by"
        && words[i + 2] == "step")
      return "step by step";
    if (i + 1 < words.size() && words[i] == "root" && words[i + 1] == "cause")
      return "root cause";
  }
  return {};
}

bool list_item(std::string_view line) {
  auto b = line.find_first_not_of(" \t");
  if (b == std::string_view::npos)
    return false;
  line.remove_prefix(b);
  if (line.size() >= 2 && (line[0] == '-' || line[0] == '*') && line[1] == ' ')
    return true;
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9')
    ++digits;
  return digits > 0 && digits < line.size() && (line[digits] == '.' || line[digits] == ')');
}

uint32_t step_markers(std::string_view text, const std::vector<std::string>& words) {
  uint32_t n = 0;
  for (const auto& w : words)
    if (one_of(step_words, w))
      ++n;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    if (list_item(text.substr(pos, end - pos)))
      ++n;
    pos = end + 1;
  }
  return n;
}

} // namespace

std::string_view to_string(task_tier t) {
  return tier_names[static_cast<size_t>(t)];
}

bool from_string(std::string_view name, task_tier& out) {
  for (size_t i = 0; i < tier_names.size(); ++i)
    if (tier_names[i] == name) {
      out = static_cast<task_tier>(i);
      return true;
    }
  return false;
}

tier_decision classify_tier(const tier_inputs& in, const tier_rules& rules) {
  using std::to_string;
  if (in.declared)
    return {*in.declared, "declared"};
  auto words = words_of(in.task);
  if (auto kw = first_keyword(words); !kw.empty())
    return {task_tier::complex, "keyword \"" + kw + "\""};
  if (auto steps = step_markers(in.task, words); steps >= rules.complex_min_steps)
    return {task_tier::complex, "multi-step (" + to_string(steps) + " step markers)"};
  if (in.task.size() >= rules.complex_min_task_bytes)
    return {task_tier::complex, "long task (" + to_string(in.task.size()) + " bytes)"};
  if (in.conversation_bytes >= rules.complex_min_conversation_bytes)
    return {task_tier::complex,
            "long conversation (" + to_string(in.conversation_bytes) + " bytes)"};
  if (in.tool_results >= rules.complex_min_tool_results)
    return {task_tier::complex, "many tool results (" + to_string(in.tool_results) + ")"};
  if (in.tools_offered == 0 && in.task.size() <= rules.trivial_max_task_bytes
      && in.turn <= rules.trivial_max_turn && in.tool_results == 0)
    return {task_tier::trivial, "short task without tools"};
  return {task_tier::standard, "default"};
}

} // namespace troupe
