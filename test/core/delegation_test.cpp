// Delegation decided purely: the graph, the allowances, the budget split,
// concurrent delegate calls, children holding a turn open, the result shown to
// the parent, and a property over random trees: no subtree ever spends more
// than its root was given. No actors, journal or clock.

#include <boost/test/unit_test.hpp>

#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "core/builtin_tools.hpp"
#include "core/delegation.hpp"
#include "core/policy.hpp"
#include "core/replay.hpp"
#include "core/run_decisions.hpp"
#include "core/scenario.hpp"
#include "schemas/errors.hpp"

using namespace troupe;
using json = nlohmann::json;

namespace {

limits_record lead_limits() {
  limits_record l;
  l.max_turns = 20;
  l.max_tool_calls = 40;
  l.max_tokens = 100000;
  l.deadline_ms = 60000;
  l.max_depth = 2;
  l.max_children = 4;
  l.max_descendants = 9;
  return l;
}

// One run driven by the decision layer, recording every event it journals
// and the inputs fed to it, so that replay can check the whole journal.
struct driver {
  tool_registry registry;
  policy governance = default_policy();
  run_state st;
  std::vector<event> journal;
  int64_t now = 1'000'000;

  explicit driver(run_start start, std::string id = "r") {
    BOOST_REQUIRE(!register_builtin_tools(registry));
    start.workspace = "/w";
    feed(std::move(start), std::move(id));
  }

  void feed(event_body body, std::string id = {}) {
    event ev;
    ev.run_id = id.empty() ? st.run_id : id;
    ev.seq = static_cast<uint32_t>(journal.size() + 1);
    ev.ts_us = now;
    ev.body = std::move(body);
    apply(st, ev);
    journal.push_back(std::move(ev));
  }

  decision next() const { return decide_next(st, decision_inputs{registry, governance, now, nullptr}); }

  // Journals decisions until the run waits; returns the children it started.
  std::vector<delegation> settle() {
    std::vector<delegation> started;
    for (int guard = 0; guard < 100; ++guard) {
      auto d = next();
      for (auto& body : d.journal)
        feed(body);
      if (auto* c = std::get_if<start_child>(&d.effect)) {
        started.push_back(c->child);
        continue;
      }
      if (std::holds_alternative<go_on>(d.effect) && !d.journal.empty())
        continue;
      return started;
    }
    BOOST_FAIL("the run never settled");
    return started;
  }

  void reply(std::vector<tool_call_ref> calls, uint64_t tokens = 10) {
    settle(); // turn_start, model_request
    feed(model_reply{st.turn, "", std::move(calls), {tokens, 0}, "", 0});
  }

  void child_ends(const delegation& d, run_status status, std::string answer, kpis spent) {
    auto r = delegation_result_of(d, run_result{d.child_run_id, status, answer, answer, "", spent});
    feed(r);
    feed(delegation_tool_result(d, r));
  }
};

run_start lead_start(std::vector<std::string> delegates = {"coder", "reviewer"}) {
  run_start s;
  s.agent = "lead";
  s.task = "ship it";
  s.model = "m";
  s.tools = {"delegate", "echo", "complete"};
  s.limits = lead_limits();
  s.scenario = "s.toml";
  s.delegates = std::move(delegates);
  return s;
}

tool_call_ref delegate_call(std::string id, std::string agent, json extra = json::object()) {
  json args = {{"agent", agent}, {"task", "do " + agent + " work"}};
  args.update(extra);
  return {std::move(id), "delegate", args.dump()};
}

template <class T>
const T* last_of(const driver& d) {
  for (auto i = d.journal.rbegin(); i != d.journal.rend(); ++i)
    if (auto* x = std::get_if<T>(&i->body))
      return x;
  return nullptr;
}

} // namespace

BOOST_AUTO_TEST_SUITE(delegation_decisions)

BOOST_AUTO_TEST_CASE(two_delegate_calls_in_one_reply_start_two_children_at_once) {
  driver r{lead_start()};
  r.reply({delegate_call("c1", "coder"), delegate_call("c2", "reviewer")});
  auto started = r.settle();
  BOOST_REQUIRE_EQUAL(started.size(), 2u);
  BOOST_TEST(started[0].child_run_id == "r.1");
  BOOST_TEST(started[1].child_run_id == "r.2");
  BOOST_TEST(started[0].depth == 1u);
  BOOST_TEST(started[1].limits.max_depth == 1u);
  // An even share of what is left: 20 turns - 1 used - 1 kept = 18, 9 each,
  // of which one is the child's recovery turn.
  BOOST_TEST(started[0].limits.max_turns == 8u);
  BOOST_TEST(started[1].limits.max_turns == 8u);
  // 9 runs below the lead, shared: the first child's share is 4 (itself and
  // 3 below), the second gets the 5 left.
  BOOST_TEST(started[0].limits.max_descendants == 3u);
  BOOST_TEST(started[1].limits.max_descendants == 4u);
  // The turn waits for both.
  auto waiting = r.next();
  BOOST_TEST(waiting.journal.empty());
  BOOST_TEST(std::holds_alternative<idle>(waiting.effect));

  kpis spent;
  spent.turns = 3;
  spent.tool_calls = 2;
  spent.input_tokens = 500;
  r.child_ends(started[1], run_status::completed, "looks good", spent);
  r.settle();
  BOOST_TEST(r.st.children.size() == 1u); // the turn still waits for the coder
  BOOST_TEST((r.st.phase == run_phase::handling_calls));
  r.child_ends(started[0], run_status::failed, "", spent);
  r.settle();
  BOOST_TEST((r.st.phase == run_phase::awaiting_reply)); // the turn ended, the next one asks
  BOOST_TEST(r.st.turn == 2u);
  BOOST_TEST(r.st.totals.descendant_runs == 2u);
  BOOST_TEST(r.st.totals.descendant_turns == 6u);
  BOOST_TEST(r.st.totals.descendant_tokens == 1000u);
  // The model saw the reviewer's answer and the coder's failure.
  auto& conv = r.st.chat.conversation;
  auto shown = [&](const std::string& call) {
    for (auto& m : conv)
      if (m.tool_call_id == call)
        return m;
    return chat_message{};
  };
  BOOST_TEST(shown("c2").content == "looks good");
  BOOST_TEST(!shown("c2").tool_error);
  BOOST_TEST(shown("c1").tool_error);
  BOOST_TEST(shown("c1").content.find("child run r.1 (coder) ended failed") == 0);
  // The journal the run wrote replays identical, children's ends as inputs.
  auto rep = replay_run(r.journal, r.registry, r.governance);
  BOOST_TEST(!rep.divergence, (rep.divergence ? rep.divergence->expected + " | "
                                                  + rep.divergence->got
                                              : std::string{}));
}

BOOST_AUTO_TEST_CASE(delegating_outside_the_graph_is_refused_before_the_policy) {
  driver r{lead_start({"coder"})};
  r.reply({delegate_call("c1", "reviewer")});
  auto d = r.next();
  BOOST_REQUIRE_EQUAL(d.journal.size(), 1u);
  auto* e = std::get_if<error_event>(&d.journal[0]);
  BOOST_REQUIRE(e);
  BOOST_TEST((e->code == error_kind::refused));
  BOOST_TEST(e->message == "agent 'lead' may not delegate to 'reviewer' (it may delegate to: coder)");
}

BOOST_AUTO_TEST_CASE(the_policy_decides_a_delegation_like_any_call) {
  auto rules = parse_policy(R"(version = 1
mode = "enforce"
default = "deny"
[[rule]]
id = "lead-may-not-delegate"
tool = "delegate"
agents = ["lead"]
decision = "deny"
)",
                            "p.toml");
  BOOST_REQUIRE_MESSAGE(rules, render(rules));
  driver r{lead_start()};
  r.governance = *rules;
  r.reply({delegate_call("c1", "coder")});
  auto started = r.settle();
  BOOST_TEST(started.empty());
  auto* pd = last_of<policy_decision>(r);
  BOOST_REQUIRE(pd);
  BOOST_TEST((pd->decision == decision_kind::deny));
  BOOST_TEST(pd->rule == "lead-may-not-delegate");
  BOOST_TEST(r.st.children_started == 0u);
}

BOOST_AUTO_TEST_CASE(depth_children_and_runs_allowances_refuse_with_their_reason) {
  auto deep = lead_start();
  deep.limits.max_depth = 0;
  driver a{deep};
  a.reply({delegate_call("c1", "coder")});
  auto refusal = a.next();
  auto* e = std::get_if<error_event>(&refusal.journal.at(0));
  BOOST_REQUIRE(e);
  BOOST_TEST(e->message.find("depth limit") != std::string::npos);

  auto few = lead_start();
  few.limits.max_children = 1;
  driver b{few};
  b.reply({delegate_call("c1", "coder"), delegate_call("c2", "coder")});
  b.settle();
  BOOST_TEST(b.st.children.size() == 1u);
  auto* refused = last_of<error_event>(b);
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->call_id == "c2");
  BOOST_TEST(refused->message == "the children-per-run limit (1) is reached");

  auto small = lead_start();
  small.limits.max_descendants = 1;
  driver c{small};
  c.reply({delegate_call("c1", "coder"), delegate_call("c2", "coder")});
  auto first = c.settle();
  BOOST_REQUIRE_EQUAL(first.size(), 1u); // too little to share: the first call gets it
  BOOST_TEST(first[0].call_id == "c1");
  BOOST_TEST(first[0].limits.max_descendants == 0u);
  auto* none = last_of<error_event>(c);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->call_id == "c2");
  BOOST_TEST(none->message.find("runs-per-tree allowance is used up") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_asked_budget_is_granted_up_to_what_is_left) {
  driver r{lead_start()};
  r.reply({delegate_call("c1", "coder", {{"budget", {{"max_turns", 3}, {"max_tokens", 999999}}}})});
  auto started = r.settle();
  BOOST_REQUIRE_EQUAL(started.size(), 1u);
  BOOST_TEST(started[0].limits.max_turns == 3u);
  BOOST_TEST(started[0].limits.max_tokens == 100000u - 10u); // what the lead has left
  BOOST_TEST(started[0].limits.deadline_ms == 60000u);
}

BOOST_AUTO_TEST_CASE(an_output_schema_is_checked_on_the_answer) {
  driver r{lead_start()};
  json schema = {{"type", "object"}, {"required", {"files"}},
                 {"properties", {{"files", {{"type", "integer"}}}}}};
  r.reply({delegate_call("c1", "coder", {{"output_schema", schema}}),
           delegate_call("c2", "coder", {{"output_schema", schema}})});
  auto started = r.settle();
  BOOST_REQUIRE_EQUAL(started.size(), 2u);
  auto good = delegation_tool_result(started[0], delegation_result_of(
    started[0], run_result{"r.1", run_status::completed, R"({"files": 2})", "", "", {}}));
  BOOST_TEST(good.ok);
  auto bad = delegation_tool_result(started[1], delegation_result_of(
    started[1], run_result{"r.2", run_status::completed, R"({"files": "two"})", "", "", {}}));
  BOOST_TEST(!bad.ok);
  BOOST_TEST(bad.output.find("does not match the output_schema (/files: expected integer") != std::string::npos,
             bad.output);
  // A schema troupe does not enforce is refused when the call is vetted.
  driver s{lead_start()};
  s.reply({delegate_call("c1", "coder", {{"output_schema", {{"type", "object"}, {"pattern", "x"}}}})});
  auto refusal = s.next();
  auto* e = std::get_if<error_event>(&refusal.journal.at(0));
  BOOST_REQUIRE(e);
  BOOST_TEST(e->message.find("output_schema: ") == 0);
}

BOOST_AUTO_TEST_CASE(a_completion_waits_for_children_only_when_the_scenario_says_so) {
  for (auto mode : {"cancel", "wait"}) {
    auto start = lead_start();
    start.children_on_end = mode;
    driver r{start};
    r.reply({delegate_call("c1", "coder"),
             {"c2", "complete", R"({"status": "success", "answer": "done"})"}});
    r.settle();
    BOOST_TEST(r.st.children.size() == 1u);
    if (std::string(mode) == "cancel") {
      BOOST_TEST((r.st.phase == run_phase::finished)); // the actor cancels the child
    } else {
      BOOST_TEST((r.st.phase == run_phase::handling_calls));
      r.child_ends(r.st.children[0], run_status::completed, "ok", {});
      r.settle();
      BOOST_TEST((r.st.phase == run_phase::finished));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_canceled_run_starts_no_more_children) {
  driver r{lead_start()};
  r.reply({delegate_call("c1", "coder"), delegate_call("c2", "reviewer")});
  auto d = r.next(); // vet c1
  for (auto& body : d.journal)
    r.feed(body);
  r.feed(error_event{error_kind::canceled, "canceled by request", ""});
  auto started = r.settle();
  BOOST_TEST(started.empty()); // c1's intent is journaled, but no child starts; c2 is not vetted
  BOOST_REQUIRE(r.st.outcome);
  BOOST_TEST((r.st.outcome->status == run_status::canceled));
}

BOOST_AUTO_TEST_CASE(child_start_takes_the_agent_from_the_scenario_and_the_budget_from_the_parent) {
  scenario sc;
  sc.source = "team.toml";
  sc.agents["coder"] = agent_config{"coder", "m2", "You write code.", {"write_file", "complete"}, {}};
  auto parent = lead_start();
  parent.tenant = "acme";
  parent.workspace = "/w";
  parent.children_on_end = "wait";
  delegation d{"c1", "r.1", "coder", "fix it", lead_limits(), 1, R"({"type":"object"})"};
  d.limits.max_turns = 5;
  auto s = child_start(sc, parent, d);
  BOOST_REQUIRE_MESSAGE(s, render(s));
  BOOST_TEST(s->agent == "coder");
  BOOST_TEST(s->model == "m2");
  BOOST_TEST(s->tenant == "acme");
  BOOST_TEST(s->task == "fix it");
  BOOST_TEST(s->limits.max_turns == 5u);
  BOOST_TEST(s->depth == 1u);
  BOOST_TEST(s->parent_call_id == "c1");
  BOOST_TEST(s->children_on_end == "wait");
  BOOST_TEST(s->instructions.find("must be JSON matching this schema") != std::string::npos);
  d.agent = "ghost";
  auto missing = child_start(sc, parent, d);
  BOOST_REQUIRE(!missing);
  BOOST_TEST(render(missing.error()).find("no agent 'ghost'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_scenario_declares_the_graph_and_the_allowances) {
  const std::string base = R"(
[run]
agent = "lead"
task = "t"
[models.m]
provider = "script"
[agents.lead]
model = "m"
tools = ["complete"]
delegates = ["coder"]
[agents.coder]
model = "m"
tools = ["complete"]
)";
  tool_registry reg;
  BOOST_REQUIRE(!register_builtin_tools(reg));
  auto parse = [&](const std::string& extra) {
    return parse_scenario(base + extra, "team.toml", "/tmp", reg.names());
  };
  auto sc = parse("[delegation]\nmax_depth = 1\nmax_children = 2\nmax_runs = 5\n"
                  "children_on_end = \"wait\"\n");
  BOOST_REQUIRE_MESSAGE(sc, render(sc));
  BOOST_TEST(sc->agents.at("lead").tools == (std::vector<std::string>{"complete", "delegate"}));
  BOOST_TEST(sc->agents.at("coder").tools == (std::vector<std::string>{"complete"}));
  BOOST_TEST(sc->limits.max_depth == 1u);
  BOOST_TEST(sc->limits.max_children == 2u);
  BOOST_TEST(sc->limits.max_descendants == 4u);
  BOOST_TEST(sc->children_on_end == "wait");
  auto bad = parse("[delegation]\nchildren_on_end = \"later\"\n");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(render(bad.error()).find("team.toml:") != std::string::npos);
  BOOST_TEST(render(bad.error()).find("expected \"cancel\" or \"wait\"") != std::string::npos);
  auto zero = parse("[delegation]\nmax_runs = 0\n");
  BOOST_REQUIRE(!zero);
  std::string listed = base;
  // The coder's tools are the last list in the text.
  listed.replace(listed.rfind("tools = [\"complete\"]"), 20,
                 "tools = [\"delegate\", \"complete\"]");
  auto without_graph = parse_scenario(listed, "team.toml", "/tmp", reg.names());
  BOOST_REQUIRE(!without_graph);
  BOOST_TEST(render(without_graph.error()).find("lists 'delegate' in 'tools' of [agents.coder] but no "
                                                "'delegates'")
             != std::string::npos);
}

// Random trees: every run delegates a random number of children with random
// asked budgets, each child spends a random amount within what it was given
// (its limits, plus its recovery turn and `complete`), recursively. However
// the tree grows, no run's subtree spends more than that run's limits allow.
BOOST_AUTO_TEST_CASE(no_subtree_ever_exceeds_its_budget) {
  std::mt19937_64 rng{20261207};
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  size_t trees = 0, runs = 0;
  // Simulates run `start` (its children recursively) and returns its KPIs
  // as its parent receives them.
  std::function<kpis(run_start, std::string, uint32_t)> simulate =
    [&](run_start start, std::string id, uint32_t level) -> kpis {
    ++runs;
    driver r{start, id};
    auto& l = start.limits;
    while (r.st.phase != run_phase::finished) {
      r.settle();
      if (r.st.phase == run_phase::finished)
        break;
      if (r.st.in_recovery() || uniform(0, 4) == 0 || level > 4) {
        r.reply({{"done", "complete", R"({"status":"success","answer":"ok"})"}},
                uniform(1, 50));
        continue;
      }
      std::vector<tool_call_ref> calls;
      auto n = uniform(1, 3);
      for (uint64_t i = 0; i < n; ++i) {
        json budget = json::object();
        if (uniform(0, 1) == 1)
          budget["max_turns"] = uniform(1, 10);
        if (uniform(0, 1) == 1)
          budget["max_tool_calls"] = uniform(1, 10);
        calls.push_back(delegate_call("t" + std::to_string(r.st.turn) + "c" + std::to_string(i),
                                      "lead", budget.empty() ? json::object()
                                                             : json{{"budget", budget}}));
      }
      r.reply(calls, uniform(1, 50));
      auto started = r.settle();
      for (auto& d : started) {
        auto child = start;
        child.limits = d.limits;
        child.depth = d.depth;
        auto spent = simulate(child, d.child_run_id, level + 1);
        r.child_ends(d, run_status::completed, "ok", spent);
      }
    }
    auto k = r.st.totals;
    BOOST_TEST(subtree_turns(k) <= l.max_turns + 1, id << ": " << subtree_turns(k) << " turns of "
                                                      << l.max_turns);
    BOOST_TEST(subtree_tool_calls(k) <= l.max_tool_calls + 1,
               id << ": " << subtree_tool_calls(k) << " tool calls of " << l.max_tool_calls);
    BOOST_TEST(k.descendant_runs <= l.max_descendants,
               id << ": " << k.descendant_runs << " runs below of " << l.max_descendants);
    return k;
  };
  for (; trees < 200; ++trees) {
    auto start = lead_start({"lead"});
    start.limits.max_turns = static_cast<uint32_t>(uniform(2, 60));
    start.limits.max_tool_calls = static_cast<uint32_t>(uniform(2, 80));
    start.limits.max_tokens = uniform(200, 5000);
    start.limits.max_depth = static_cast<uint32_t>(uniform(0, 4));
    start.limits.max_children = static_cast<uint32_t>(uniform(1, 6));
    start.limits.max_descendants = static_cast<uint32_t>(uniform(0, 40));
    simulate(start, "t" + std::to_string(trees), 0);
  }
  BOOST_TEST_MESSAGE(trees << " trees, " << runs << " runs");
  BOOST_TEST(runs > trees * 2); // the trees did grow
}

BOOST_AUTO_TEST_SUITE_END()
