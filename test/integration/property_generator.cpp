#include "test/integration/property_generator.hpp"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace troupe::test {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> all_tools{"echo", "read_file", "write_file",
                                         "list_dir", "complete"};

} // namespace

scenario_generator::scenario_generator(uint64_t seed, size_t index) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(index)};
  rng_.seed(seq);
}

scenario scenario_generator::make(size_t index, const fs::path& ws_base) {
  scenario sc;
  sc.source = "prop-" + std::to_string(index);
  sc.agent = "a";
  sc.task = "property run " + std::to_string(index);
  sc.workspace_root = ws_base / std::to_string(index);
  sc.models["m"] = model_config{"m", "script"};
  agent_config agent{"a", "m", "Follow the script.", all_tools};
  if (chance(0.2)) // withhold one tool, so calls to it are refused
    agent.tools.erase(agent.tools.begin() + pick(0, 3));
  sc.agents["a"] = agent;
  sc.limits = make_limits();
  auto& script = sc.scripts["a"];
  auto n = pick(0, 8);
  for (int i = 0; i < n; ++i)
    script.push_back(make_reply());
  if (chance(0.6)) {
    scripted_reply done;
    done.tool_calls.push_back(complete_call());
    script.push_back(std::move(done));
  }
  return sc;
}

int scenario_generator::pick(int lo, int hi) {
  return std::uniform_int_distribution<int>{lo, hi}(rng_);
}

bool scenario_generator::chance(double p) {
  return std::bernoulli_distribution{p}(rng_);
}

std::string scenario_generator::word() {
  static const char* words[] = {"alpha", "beta", "gamma", "δέλτα", "quote\"d",
                                "line\nbreak", "", "tab\there", "long-long-long-word"};
  return words[pick(0, 8)];
}

run_limits scenario_generator::make_limits() {
  run_limits l;
  l.max_turns = static_cast<uint32_t>(pick(1, 10));
  l.max_tool_calls = static_cast<uint32_t>(pick(1, 12));
  l.max_tokens = chance(0.2) ? static_cast<uint64_t>(pick(20, 400)) : 100000;
  l.deadline_ms = chance(0.05) ? static_cast<uint64_t>(pick(1, 5)) : 120000;
  l.max_consecutive_errors = static_cast<uint32_t>(pick(0, 4));
  l.max_parse_failures = static_cast<uint32_t>(pick(0, 3));
  return l;
}

std::string scenario_generator::file_name() {
  auto n = std::to_string(pick(0, 4));
  return chance(0.3) ? "d" + n + "/f.txt" : "f" + n + ".txt";
}

scripted_tool_call scenario_generator::echo_call() {
  nlohmann::json args = nlohmann::json::object();
  auto keys = pick(0, 3);
  for (int k = 0; k < keys; ++k) {
    auto key = "k" + std::to_string(pick(0, 9));
    switch (pick(0, 3)) {
      case 0: args[key] = pick(-1000, 1000); break;
      case 1: args[key] = word(); break;
      case 2: args[key] = chance(0.5); break;
      default: args[key] = nlohmann::json::array({pick(0, 9), word()}); break;
    }
  }
  return {"", "echo", args.dump()};
}

scripted_tool_call scenario_generator::write_call() {
  nlohmann::json args{{"path", file_name()}, {"content", word() + word()}};
  return {"", "write_file", args.dump()};
}

scripted_tool_call scenario_generator::read_call() {
  return {"", "read_file", nlohmann::json{{"path", file_name()}}.dump()};
}

scripted_tool_call scenario_generator::list_call() {
  return {"", "list_dir", chance(0.5) ? "{}" : R"({"path":"."})"};
}

scripted_tool_call scenario_generator::malformed_call() {
  static const char* raw[] = {"{bad", "[", "", "   ", "null", "42",
                              R"({"path": 7})", R"({"path":"f.txt",)"};
  static const char* names[] = {"echo", "read_file", "write_file", "complete"};
  return {"", names[pick(0, 3)], raw[pick(0, 7)]};
}

scripted_tool_call scenario_generator::unknown_call() {
  return {"", "nope_" + std::to_string(pick(0, 3)), "{}"};
}

scripted_tool_call scenario_generator::complete_call() {
  static const char* statuses[] = {"success", "failure", "partial"};
  nlohmann::json args{{"status", statuses[pick(0, 2)]},
                      {"answer", "answer " + word()}};
  return {"", "complete", args.dump()};
}

scripted_reply scenario_generator::make_reply() {
  scripted_reply r;
  if (chance(0.3)) {
    r.input_tokens = static_cast<uint64_t>(pick(1, 200));
    r.output_tokens = static_cast<uint64_t>(pick(1, 100));
  }
  auto kind = pick(0, 9);
  if (kind == 0) {
    static const scripted_failure failures[] = {scripted_failure::timeout,
                                                scripted_failure::rate_limited,
                                                scripted_failure::server_error};
    r.failure = failures[pick(0, 2)];
    r.input_tokens = r.output_tokens = 0;
    return r;
  }
  if (kind == 1 || chance(0.2))
    r.text = "thinking: " + word();
  if (kind == 1)
    return r; // text only
  auto calls = pick(1, 3);
  for (int c = 0; c < calls; ++c) {
    switch (pick(0, 12)) {
      case 0: case 1: case 2: r.tool_calls.push_back(echo_call()); break;
      case 3: case 4: r.tool_calls.push_back(write_call()); break;
      case 5: case 6: r.tool_calls.push_back(read_call()); break;
      case 7: r.tool_calls.push_back(list_call()); break;
      case 8: case 9: r.tool_calls.push_back(malformed_call()); break;
      case 10: r.tool_calls.push_back(unknown_call()); break;
      case 11: r.tool_calls.push_back(complete_call()); break;
      default: r.tool_calls.push_back(echo_call()); break;
    }
  }
  // Sometimes name the calls; ids must stay unique within the run.
  if (chance(0.2))
    for (size_t c = 0; c < r.tool_calls.size(); ++c)
      r.tool_calls[c].id = "id" + std::to_string(next_id_++);
  return r;
}

} // namespace troupe::test
