// A tool call that hangs cannot keep a run alive past its deadline: the run
// stops waiting when `deadline_ms` runs out (not only after the tool timeout
// of 60 s), journals the call as a failed tool result saying so, and ends by
// its limits. Part of embed_api_test (the module is defined there).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "troupe/runtime.hpp"
#include "schemas/codec.hpp"

using namespace troupe;

namespace {

// Calls `hang` first, then completes with what it was shown.
struct hang_then_complete final : model_provider {
  model_response complete(const model_call& call) override {
    model_response r;
    if (call.request_index == 0)
      r.tool_calls.push_back({"h1", "hang", "{}"});
    else
      r.tool_calls.push_back({"done", "complete",
                              nlohmann::json{{"status", "partial"},
                                             {"answer", call.messages.back().content}}
                                .dump()});
    return r;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_hanging_tool_call_ends_at_the_run_deadline) {
  auto dir = std::filesystem::temp_directory_path()
             / ("troupe-tool-deadline-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto db = (dir / "deadline.db").string();
  // The tool blocks until the test ends; the promise lets it go then, so
  // the runtime can shut down whatever happened.
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  std::string run_id;
  {
    auto rt = runtime::create({db});
    BOOST_REQUIRE_MESSAGE(rt, render(rt));
    tool_definition def;
    def.name = "hang";
    def.description = "never answers in time";
    def.parameters = nlohmann::json{{"type", "object"}};
    def.effect = tool_effect::pure;
    def.handler = [released](const nlohmann::json&, const tool_context&) {
      released.wait();
      return tool_outcome{true, "too late", false};
    };
    BOOST_REQUIRE(!(*rt)->register_tool(def));
    BOOST_REQUIRE(!(*rt)->register_provider("hang-model",
                                             std::make_shared<hang_then_complete>()));
    scenario sc;
    sc.source = "tool-deadline";
    sc.agent = "a";
    sc.task = "wait for a tool that hangs";
    sc.workspace_root = dir / "work";
    sc.models["hang-model"] = {"hang-model", "custom"};
    sc.agents["a"] = {"a", "hang-model", "", {"hang", "complete"}};
    sc.limits.deadline_ms = 500;
    auto rules = parse_policy("version = 1\n[[rule]]\nid = \"all\"\ntool = \"*\"\n"
                              "decision = \"allow\"\n",
                              "inline");
    BOOST_REQUIRE_MESSAGE(rules, render(rules));
    sc.governance = *rules;
    auto t0 = std::chrono::steady_clock::now();
    auto h = (*rt)->start(sc, {});
    BOOST_REQUIRE_MESSAGE(h, render(h));
    run_id = h->id();
    auto ready = h->result().wait_for(std::chrono::seconds{20});
    auto took = std::chrono::steady_clock::now() - t0;
    release->set_value();
    BOOST_REQUIRE_MESSAGE(ready == std::future_status::ready,
                          "the run still waits for its hanging tool after 20 s");
    auto r = h->result().get();
    BOOST_TEST(to_string(r.status) == "limit_reached");
    BOOST_TEST(r.reason == "deadline");
    BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(took).count() < 10);
  }
  auto store = persistence::store::open(db, persistence::open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(store, render(store));
  auto rows = store->events(run_id);
  BOOST_REQUIRE_MESSAGE(rows, render(rows));
  bool journaled = false;
  for (auto& row : *rows) {
    auto ev = decode(row.bytes, "seq " + std::to_string(row.seq));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    if (auto* res = std::get_if<tool_result>(&ev->body); res && res->call_id == "h1") {
      journaled = true;
      BOOST_TEST(!res->ok);
      BOOST_TEST(res->output.find("deadline") != std::string::npos, res->output);
    }
  }
  BOOST_TEST(journaled);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
