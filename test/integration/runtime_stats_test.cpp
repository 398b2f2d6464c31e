// runtime::stats() after real work: the journal's commits, and the shell
// tool's sandbox pool once a call started it (nothing before).

#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/policy.hpp"
#include "troupe/runtime.hpp"

using namespace troupe;

namespace {

struct shell_once final : model_provider {
  model_response complete(const model_call& call) override {
    model_response r;
    if (call.request_index == 0)
      r.tool_calls.push_back({"sh1", "shell", R"({"argv":["true"]})"});
    else
      r.tool_calls.push_back(
        {"done", "complete", R"({"status":"success","answer":"ran"})"});
    return r;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(runtime_stats_show_the_journal_and_the_sandbox_pool) {
  auto dir = std::filesystem::temp_directory_path()
             / ("troupe-runtime-stats-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    runtime_options opts{(dir / "stats.db").string()};
    opts.sandbox_worker_binary = TROUPE_SANDBOX_WORKER;
    opts.sandbox_workers = 1;
    auto rt = runtime::create(opts);
    BOOST_REQUIRE(rt);
    auto before = (*rt)->stats();
    BOOST_TEST(!before.sandbox.has_value()); // no shell call yet: no pool
    BOOST_TEST(before.endpoints.empty());    // no routed model yet
    BOOST_REQUIRE(!(*rt)->register_provider("sh", std::make_shared<shell_once>()));
    scenario sc;
    sc.source = "runtime-stats";
    sc.agent = "a";
    sc.task = "run true";
    sc.workspace_root = dir / "work";
    sc.models["sh"] = {"sh", "custom"};
    sc.agents["a"] = {"a", "sh", "", {"shell", "complete"}};
    auto rules = parse_policy("version = 1\n[[rule]]\nid = \"t\"\ntool = \"shell\"\n"
                              "command_prefix = [\"true\"]\ndecision = \"allow\"\n"
                              "[[rule]]\nid = \"done\"\ntool = \"complete\"\ndecision = \"allow\"\n",
                              "inline");
    BOOST_REQUIRE(rules);
    sc.governance = *rules;
    auto h = (*rt)->start(sc, {});
    BOOST_REQUIRE(h);
    auto result = h->result().get();
    BOOST_TEST(result.answer == "ran");
    auto after = (*rt)->stats();
    BOOST_REQUIRE(after.sandbox.has_value());
    BOOST_TEST(after.sandbox->calls == 1u);
    BOOST_TEST(after.sandbox->live >= 1u);
    BOOST_TEST(after.sandbox->limit_breaches == 0u);
    auto& j = after.journal;
    BOOST_TEST(j.commits > 0u);
    BOOST_TEST(j.accepted >= j.committed);
    BOOST_TEST(j.committed >= 6u); // run_start, turn, reply, decision, call, result, ...
    BOOST_TEST(j.commit_latency_s.count == j.commits);
    BOOST_TEST(j.commit_latency_s.buckets.size() == j.commit_latency_s.bounds.size() + 1);
    BOOST_TEST(j.batch_size.sum == static_cast<double>(j.committed));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
