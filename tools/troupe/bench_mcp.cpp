// `troupe bench mcp`: per-call latency and calls/s of an MCP `echo` through
// the governed path against a direct session with the same server, started
// the same way (sandboxed), so the ratio is what governance and the journal
// cost per call.

#include "tools/troupe/bench_mcp.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/scenario.hpp"
#include "mcp/server_start.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"
#include "troupe/runtime.hpp"

namespace troupe::cli {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

int64_t percentile(std::vector<int64_t> xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

// Calls the echo tool `calls` times, then `complete`.
class echo_provider final : public model_provider {
public:
  explicit echo_provider(uint64_t calls) : calls_(calls) {}
  model_response complete(const model_call& call) override {
    model_response r;
    if (call.request_index < calls_)
      r.tool_calls.push_back({"c" + std::to_string(call.request_index + 1), "bench__echo",
                              "{\"message\":\"ping " + std::to_string(call.request_index) + "\"}"});
    else
      r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"done"})"});
    return r;
  }

private:
  uint64_t calls_;
};

struct phase {
  std::vector<int64_t> latencies_us;
  double seconds = 0;
  std::string error;
};

mcp_server_config server_config(const std::string& command) {
  mcp_server_config c;
  c.name = "bench";
  c.command = {command};
  c.tools = {"echo"};
  return c;
}

phase direct(const mcp_server_config& cfg, const fs::path& workspace, uint64_t calls) {
  phase out;
  mcp::server_setup setup;
  setup.config = cfg;
  setup.workspace = workspace;
  auto session = mcp::start_server(setup, {});
  if (!session) {
    out.error = render(session.error());
    return out;
  }
  auto t0 = clock_type::now();
  for (uint64_t i = 0; i < calls; ++i) {
    std::promise<mcp_call_result> done;
    auto answer = done.get_future();
    auto c0 = clock_type::now();
    (*session)->call_tool("echo", {{"message", "ping " + std::to_string(i)}},
                          std::chrono::seconds{30},
                          [&done](mcp_call_result r) { done.set_value(std::move(r)); });
    auto r = answer.get();
    if (!r.answered || r.is_error) {
      out.error = "echo failed: " + r.error + r.text;
      return out;
    }
    out.latencies_us.push_back(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - c0).count());
  }
  out.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  (*session)->close();
  return out;
}

// One run of `calls` echo turns; a call's latency is from the model reply
// that asked for it to its journaled result (journal timestamps).
phase governed(const mcp_server_config& cfg, const fs::path& dir, uint64_t calls) {
  phase out;
  auto rt = runtime::create({(dir / "bench.db").string()});
  if (!rt) {
    out.error = render(rt.error());
    return out;
  }
  if (auto err = (*rt)->register_provider("bench-model", std::make_shared<echo_provider>(calls))) {
    out.error = render(err);
    return out;
  }
  scenario sc;
  sc.source = "bench-mcp";
  sc.agent = "bench";
  sc.task = "echo, then complete";
  sc.limits.max_turns = static_cast<uint32_t>(calls + 2);
  sc.limits.max_tool_calls = static_cast<uint32_t>(calls + 2);
  sc.limits.deadline_ms = 3600 * 1000;
  sc.workspace_root = dir / "work";
  sc.models["bench-model"] = {"bench-model", "bench"};
  sc.agents["bench"] = {"bench", "bench-model", "", {"bench__echo", "complete"}};
  sc.mcp_servers["bench"] = cfg;
  auto rules = parse_policy("version = 1\n[[rule]]\nid = \"bench\"\ntool = \"bench__*\"\n"
                            "decision = \"allow\"\n[[rule]]\nid = \"done\"\ntool = \"complete\"\n"
                            "decision = \"allow\"\n",
                            "bench policy");
  sc.governance = *rules;
  // Start the server outside the measurement, as a service would have it up.
  if (auto offers = (*rt)->mcp_offers(sc); !offers) {
    out.error = render(offers.error());
    return out;
  }
  std::mutex mtx;
  std::map<std::string, int64_t> asked_at; // call id -> model_reply ts
  run_request req;
  req.on_event = [&](const event& ev) {
    std::lock_guard<std::mutex> guard(mtx);
    if (auto* reply = std::get_if<model_reply>(&ev.body)) {
      for (auto& c : reply->tool_calls)
        asked_at[c.call_id] = ev.ts_us;
    } else if (auto* result = std::get_if<tool_result>(&ev.body)) {
      if (auto i = asked_at.find(result->call_id); i != asked_at.end() && result->ok
          && result->name != "complete")
        out.latencies_us.push_back(ev.ts_us - i->second);
    }
  };
  auto t0 = clock_type::now();
  auto handle = (*rt)->start(sc, std::move(req));
  if (!handle) {
    out.error = render(handle.error());
    return out;
  }
  auto result = handle->result().get();
  out.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (result.status != run_status::completed)
    out.error = "the run ended " + std::string(to_string(result.status)) + ": " + result.reason;
  else if (out.latencies_us.size() != calls)
    out.error = std::to_string(calls - out.latencies_us.size()) + " echo calls failed";
  return out;
}

} // namespace

int bench_mcp(const bench_mcp_options& opts) {
  std::error_code ec;
  auto server = opts.server.empty()
                  ? fs::absolute("build-mcp-peers/node_modules/.bin/mcp-server-everything", ec)
                  : fs::absolute(opts.server, ec);
  if (!fs::exists(server, ec)) {
    std::cerr << "troupe: bench mcp: no MCP server at " << server.string()
              << "; pass --server PATH, or run scripts/mcp-peers.sh here\n";
    return exit_usage;
  }
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-mcp-" + std::to_string(::getpid()));
  fs::create_directories(dir / "work", ec);
  auto say = [&](const char* what) {
    if (!opts.json)
      std::fprintf(stderr, "%s (%llu calls)...\n", what,
                   static_cast<unsigned long long>(opts.calls));
  };
  auto cfg = server_config(server.string());
  say("1/2 direct: one session, no governance, no journal");
  auto base = direct(cfg, dir / "work", opts.calls);
  say("2/2 governed: a run calling the tool through troupe");
  auto gov = base.error.empty() ? governed(cfg, dir, opts.calls) : phase{};
  fs::remove_all(dir, ec);
  for (auto* p : {&base, &gov})
    if (!p->error.empty()) {
      std::cerr << "troupe: bench mcp failed: " << p->error << "\n";
      return exit_failure;
    }
  auto rate = [&](const phase& p) { return static_cast<double>(opts.calls) / p.seconds; };
  auto direct_p50 = percentile(base.latencies_us, 0.5);
  auto direct_p99 = percentile(base.latencies_us, 0.99);
  auto gov_p50 = percentile(gov.latencies_us, 0.5);
  auto gov_p99 = percentile(gov.latencies_us, 0.99);
  double ratio = rate(gov) / rate(base);
  if (opts.json) {
    nlohmann::ordered_json out{{"bench", "mcp"},
                               {"calls", opts.calls},
                               {"server", server.string()},
                               {"direct_calls_per_s", rate(base)},
                               {"direct_p50_us", direct_p50},
                               {"direct_p99_us", direct_p99},
                               {"governed_calls_per_s", rate(gov)},
                               {"governed_p50_us", gov_p50},
                               {"governed_p99_us", gov_p99},
                               {"ratio_calls_per_s", ratio}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("direct:   %8.0f calls/s  p50 %6lld us  p99 %6lld us\n", rate(base),
                static_cast<long long>(direct_p50), static_cast<long long>(direct_p99));
    std::printf("governed: %8.0f calls/s  p50 %6lld us  p99 %6lld us\n", rate(gov),
                static_cast<long long>(gov_p50), static_cast<long long>(gov_p99));
    std::printf("ratio (governed / direct calls/s): %.2f\n", ratio);
  }
  return exit_ok;
}

} // namespace troupe::cli
