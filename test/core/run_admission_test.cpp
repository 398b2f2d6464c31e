// Admission decisions: which runs may start (admit_run) and how many resumed
// runs may be alive at once (resume_gate).

#include "core/run_admission.hpp"

#include <boost/test/unit_test.hpp>

#include "core/builtin_tools.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

scenario two_agents() {
  scenario sc;
  sc.source = "team.toml";
  sc.agent = "lead";
  sc.task = "write the report";
  sc.tenant = "acme";
  sc.workspace_root = "/srv/ws";
  sc.agents["lead"] = {"lead", "big", "be brief", {"echo", "complete"}};
  sc.agents["helper"] = {"helper", "small", "", {"echo", "nope"}};
  return sc;
}

tool_registry builtins() {
  tool_registry reg;
  BOOST_REQUIRE(!register_builtin_tools(reg));
  return reg;
}

bool mentions(const caf::error& err, const std::string& part) {
  return render(err).find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_admission)

BOOST_AUTO_TEST_CASE(admitted_runs_take_agent_and_task_from_the_request_or_the_scenario) {
  auto reg = builtins();
  auto start = admit_run(two_agents(), "", "", reg, "/abs/team.toml");
  BOOST_REQUIRE_MESSAGE(start, render(start));
  BOOST_TEST(start->agent == "lead");
  BOOST_TEST(start->task == "write the report");
  BOOST_TEST(start->model == "big");
  BOOST_TEST(start->instructions == "be brief");
  BOOST_TEST(start->tenant == "acme");
  BOOST_TEST(start->scenario == "/abs/team.toml");
  BOOST_TEST(start->workspace == "/srv/ws");
  BOOST_TEST(start->tools.size() == 2u);
  auto other = admit_run(two_agents(), "lead", "another task", reg, "k");
  BOOST_REQUIRE(other);
  BOOST_TEST(other->task == "another task");
}

BOOST_AUTO_TEST_CASE(refusals_name_the_scenario_and_what_to_change) {
  auto reg = builtins();
  auto no_agent = admit_run(two_agents(), "ghost", "", reg, "k");
  BOOST_REQUIRE(!no_agent);
  BOOST_CHECK(no_agent.error() == runtime_errc::invalid_scenario);
  BOOST_TEST(mentions(no_agent.error(), "team.toml: no agent 'ghost'"));
  auto sc = two_agents();
  sc.task.clear();
  auto no_task = admit_run(sc, "", "", reg, "k");
  BOOST_REQUIRE(!no_task);
  BOOST_CHECK(no_task.error() == runtime_errc::invalid_scenario);
  BOOST_TEST(mentions(no_task.error(), "--task"));
  auto bad_tool = admit_run(two_agents(), "helper", "", reg, "k");
  BOOST_REQUIRE(!bad_tool);
  BOOST_CHECK(bad_tool.error() == runtime_errc::unknown_tool);
  BOOST_TEST(mentions(bad_tool.error(), "agent 'helper' lists tool 'nope'"));
}

BOOST_AUTO_TEST_CASE(the_resume_gate_caps_alive_runs_and_starts_waiting_ones_in_order) {
  resume_gate gate{2};
  BOOST_TEST(gate.admit("a"));
  BOOST_TEST(gate.admit("b"));
  BOOST_TEST(!gate.admit("c"));
  BOOST_TEST(!gate.admit("d"));
  BOOST_TEST(gate.alive() == 2u);
  BOOST_TEST(gate.waiting() == 2u);
  BOOST_TEST(!gate.release("new-run").has_value()); // never gated: nothing frees
  BOOST_TEST(gate.release("b").value_or("") == "c");
  BOOST_TEST(!gate.release("d").has_value()); // given up while it waited
  BOOST_TEST(gate.waiting() == 0u);
  BOOST_TEST(!gate.release("a").has_value());
  BOOST_TEST(gate.alive() == 1u);
}

BOOST_AUTO_TEST_CASE(a_zero_limit_still_lets_one_run_through_and_shutdown_drops_the_queue) {
  resume_gate gate{0};
  BOOST_TEST(gate.limit() == 1u);
  BOOST_TEST(gate.admit("a"));
  BOOST_TEST(!gate.admit("b"));
  BOOST_TEST(!gate.admit("c"));
  BOOST_TEST((gate.drop_waiting() == std::vector<std::string>{"b", "c"}));
  BOOST_TEST(!gate.release("a").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
