// Resume in an embedding service: a process holding a run with a C++ tool,
// a C++ provider and an in-code scenario (with its policy) is killed; a new
// process registers the same pieces and resumes the run to its end.

#define BOOST_TEST_MODULE embed_resume
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe/runtime.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;

namespace {

tool_definition stamp_tool() {
  tool_definition def;
  def.name = "stamp";
  def.description = "returns a stamp";
  def.parameters = nlohmann::json::parse(R"({"type":"object"})");
  def.effect = tool_effect::pure;
  def.handler = [](const nlohmann::json&, const tool_context&) {
    return tool_outcome{true, "stamped", false};
  };
  return def;
}

// Calls `stamp` once, then completes with what it saw. With `hold`, never
// answers (the process is killed while the run waits).
struct stamp_model final : model_provider {
  explicit stamp_model(bool hold) : hold(hold) {}
  bool hold;
  std::atomic<bool> asked{false};
  model_response complete(const model_call& call) override {
    asked = true;
    while (hold)
      std::this_thread::sleep_for(std::chrono::seconds(1));
    model_response r;
    if (call.request_index == 0)
      r.tool_calls.push_back({"s1", "stamp", "{}"});
    else
      r.tool_calls.push_back(
        {"done", "complete",
         nlohmann::json{{"status", "success"}, {"answer", call.messages.back().content}}
           .dump()});
    return r;
  }
  bool blocking() const override { return true; }
};

scenario service_scenario(const std::filesystem::path& ws) {
  scenario sc;
  sc.source = "stamp-service";
  sc.agent = "svc";
  sc.task = "stamp it";
  sc.workspace_root = ws;
  sc.models["stamper"] = {"stamper", "custom"};
  sc.agents["svc"] = {"svc", "stamper", "", {"stamp", "complete"}};
  auto rules = parse_policy("version = 1\n[[rule]]\nid = \"stamp\"\ntool = \"stamp\"\n"
                            "decision = \"allow\"\n[[rule]]\nid = \"done\"\n"
                            "tool = \"complete\"\ndecision = \"allow\"\n",
                            "stamp-policy");
  if (rules)
    sc.governance = *rules;
  return sc;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_killed_service_resumes_its_run_with_registered_pieces) {
  troupe::test::temp_dir tmp;
  auto db = (tmp.path / "service.db").string();
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork(); // no threads exist yet in this process
  if (child == 0) {
    ::close(ready[0]);
    auto rt = runtime::create({db});
    if (!rt || (*rt)->register_tool(stamp_tool()))
      ::_exit(1);
    auto model = std::make_shared<stamp_model>(true);
    if ((*rt)->register_provider("stamper", model))
      ::_exit(1);
    if (!(*rt)->start(service_scenario(tmp.path / "ws"), {}))
      ::_exit(1);
    while (!model->asked)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // journal commits
    char c = 'k';
    if (::write(ready[1], &c, 1) != 1)
      ::_exit(1);
    for (;;)
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ::close(ready[1]);
  char c = 0;
  BOOST_REQUIRE_EQUAL(::read(ready[0], &c, 1), 1);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  runtime_options opts{db};
  opts.resume_on_first_start = false;
  auto rt = runtime::create(opts);
  BOOST_REQUIRE(rt);
  BOOST_REQUIRE(!(*rt)->register_tool(stamp_tool()));
  BOOST_REQUIRE(!(*rt)->register_provider("stamper", std::make_shared<stamp_model>(false)));
  // Without its scenario the run cannot know its policy: a clear error, and
  // the run stays unfinished.
  auto unknown = (*rt)->resume();
  BOOST_REQUIRE_EQUAL(unknown.size(), 1u);
  BOOST_REQUIRE(!unknown[0]);
  BOOST_TEST(render(unknown[0].error()).find("register_scenario") != std::string::npos);
  (*rt)->register_scenario(service_scenario(tmp.path / "ws"));
  auto resumed = (*rt)->resume();
  BOOST_REQUIRE_EQUAL(resumed.size(), 1u);
  BOOST_REQUIRE_MESSAGE(resumed[0], render(resumed[0]));
  auto r = resumed[0]->result().get();
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(r.answer == "stamped");
}
