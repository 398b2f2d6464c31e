#include "tools/troupe/bench_gateway_load.hpp"

#include <algorithm>

namespace troupe::cli {

namespace {

int64_t percentile(std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(k), xs.end());
  return xs[k];
}

std::vector<chat_message> conversation_head() {
  chat_message system;
  system.role = chat_role::system;
  system.content =
    "You are a careful software engineer working in a sandboxed workspace. Use the tools "
    "to read what you need, keep your answers short, and call `complete` with your answer "
    "when the task is done. Never guess file contents: read them.";
  return {system};
}

std::vector<tool_spec> bench_tools() {
  return {
    {"read_file", "Reads a file of the workspace.",
     R"({"type":"object","properties":{"path":{"type":"string","description":)"
     R"("relative to the workspace"}},"required":["path"]})"},
    {"complete", "Ends the task with its outcome.",
     R"({"type":"object","properties":{"status":{"type":"string","enum":["success",)"
     R"("failure"]},"answer":{"type":"string"}},"required":["status","answer"]})"},
  };
}

} // namespace

model_call bench_call(const std::string& number) {
  static const auto head = conversation_head();
  static const auto tools = bench_tools();
  model_call call;
  call.run_id = "bench-" + number;
  call.agent = "bench";
  call.model = "bench";
  call.turn = 1;
  call.messages = head;
  chat_message task;
  task.role = chat_role::user;
  task.content = std::string(bench_stream_server::marker) + number
                 + ": summarize what the function `parse_head` in src/http.cpp does.";
  call.messages.push_back(std::move(task));
  call.tools = tools;
  return call;
}

phase_figures summarize(const phase_log& log, const load_plan& plan,
                        const bench_stream_server& server) {
  phase_figures f;
  std::vector<int64_t> e2e, own, added;
  int64_t first = INT64_MAX, last = 0;
  // The steady window: from the end of the warm-up (every slot has sent its
  // first measured request) to the last request sent (from then on slots
  // fall idle one after the other).
  int64_t steady_from = 0, steady_to = 0;
  for (uint64_t i = 0; i < plan.total(); ++i) {
    if (i < plan.warmup)
      steady_from = std::max(steady_from, log.end_us[i]);
    steady_to = std::max(steady_to, log.start_us[i]);
  }
  uint64_t steady_ended = 0;
  for (uint64_t i = 0; i < plan.total(); ++i) {
    auto server_us = server.server_us(plan.first_id + i);
    if (!log.ok[i] || server_us == 0) {
      ++f.failed;
      continue;
    }
    if (log.end_us[i] > steady_from && log.end_us[i] <= steady_to)
      ++steady_ended;
    if (i < plan.warmup)
      continue;
    auto total = log.end_us[i] - log.start_us[i];
    e2e.push_back(total);
    own.push_back(static_cast<int64_t>(server_us));
    added.push_back(total - static_cast<int64_t>(server_us));
    first = std::min(first, log.start_us[i]);
    last = std::max(last, log.end_us[i]);
  }
  if (steady_ended > 0 && steady_to > steady_from)
    f.requests_per_s = static_cast<double>(steady_ended) * 1e6
                       / static_cast<double>(steady_to - steady_from);
  else if (!e2e.empty() && last > first) // too few requests for a steady window
    f.requests_per_s = static_cast<double>(e2e.size()) * 1e6 / static_cast<double>(last - first);
  f.e2e_p50_us = percentile(e2e, 0.50);
  f.e2e_p99_us = percentile(e2e, 0.99);
  f.server_p50_us = percentile(own, 0.50);
  f.server_p99_us = percentile(own, 0.99);
  f.added_p50_us = percentile(added, 0.50);
  f.added_p99_us = percentile(added, 0.99);
  f.cpu_us_per_request = static_cast<double>(log.cpu_us) / static_cast<double>(plan.total());
  f.idle_kib = log.idle_kib;
  f.peak_kib = log.peak_kib;
  if (log.peak_kib > log.idle_kib)
    f.kib_per_in_flight = static_cast<double>(log.peak_kib - log.idle_kib)
                          / static_cast<double>(plan.concurrency);
  return f;
}

} // namespace troupe::cli
