// The run supervisor under the deterministic scheduler, against doubles of
// the journal and of a model route: run ids, resume (which runs, the cap,
// the errors), giving a run up, and shutdown.

#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/run_supervisor.hpp"
#include "core/builtin_tools.hpp"
#include "persistence/store_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/actors/actor_doubles.hpp"

using namespace troupe;
using persistence::store_errc;

namespace {

constexpr int64_t t0_us = 1700000000000000;

// -- doubles ----------------------------------------------------------------------

struct journal_double_state {
  static inline const char* name = "journal_double";
  std::vector<std::string> unfinished;
  std::map<std::string, std::vector<event>> histories;
  std::map<std::string, caf::error> claim_errors;
  std::map<std::string, caf::error> read_errors;
  std::vector<event> appended;
  std::vector<std::string> claimed;
};

// Accepts every append; answers claims, reads and the unfinished list from
// its state.
caf::behavior journal_double(caf::stateful_actor<journal_double_state>* self, int) {
  auto append = [=](const event_bytes& bytes) {
    auto ev = decode(bytes);
    BOOST_REQUIRE(ev);
    self->state.appended.push_back(std::move(*ev));
    return static_cast<uint32_t>(self->state.appended.size());
  };
  return {
    [=](append_atom, const event_bytes& bytes) { return append(bytes); },
    [=](append_atom, durable_atom, const event_bytes& bytes) { return append(bytes); },
    [=](append_atom, durable_atom, const persistence::sealed_event& draft) {
      return append(test::whole_event(draft));
    },
    [=](unfinished_atom) { return self->state.unfinished; },
    [=](claim_atom, const std::string& run_id) -> caf::result<void> {
      self->state.claimed.push_back(run_id);
      if (auto i = self->state.claim_errors.find(run_id); i != self->state.claim_errors.end())
        return i->second;
      return caf::unit;
    },
    [=](read_atom, const std::string& run_id) -> caf::result<rebuilt_run> {
      if (auto i = self->state.read_errors.find(run_id); i != self->state.read_errors.end())
        return i->second;
      auto run = rebuild(self->state.histories[run_id]);
      if (!run)
        return std::move(run.error());
      return std::move(*run);
    },
  };
}

struct route_double_state {
  static inline const char* name = "route_double";
  std::vector<std::pair<std::string, caf::typed_response_promise<model_response>>> held;
};

// Holds every model request until told to answer the oldest with `complete`
// (promises are delivered from inside the actor, as CAF requires).
caf::behavior route_double(caf::stateful_actor<route_double_state>* self, int) {
  return {
    [=](complete_atom, model_call& call) -> caf::result<model_response> {
      auto rp = self->make_response_promise<model_response>();
      self->state.held.emplace_back(call.run_id, rp);
      return rp;
    },
    [=](caf::ok_atom) {
      auto& held = self->state.held;
      if (held.empty())
        return;
      model_response r;
      r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"ok"})"});
      held.front().second.deliver(std::move(r));
      held.erase(held.begin());
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg.set("scheduler.policy", caf::atom("testing"))};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};
  caf::actor journal = sys.spawn(journal_double, 0); // an argument: see actors/run_supervisor.cpp tell_owner
  caf::actor route = sys.spawn(route_double, 0);
  std::shared_ptr<tool_registry> registry = std::make_shared<tool_registry>();

  fixture() { BOOST_REQUIRE(!register_builtin_tools(*registry)); }

  ~fixture() {
    for (auto& a : {journal, route})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class State>
  State& state_of(const caf::actor& h) {
    return dynamic_cast<caf::stateful_actor<State>&>(*caf::actor_cast<caf::abstract_actor*>(h))
      .state;
  }

  journal_double_state& journal_state() { return state_of<journal_double_state>(journal); }
  route_double_state& route_state() { return state_of<route_double_state>(route); }

  run_wiring wiring() {
    run_wiring w;
    w.journal = journal;
    w.route = route;
    w.registry = registry;
    w.governance = std::make_shared<const policy>(default_policy());
    w.clock = [] { return t0_us; };
    return w;
  }

  // A journaled run that stopped right after its run_start.
  void journal_unfinished(const std::string& run_id, const std::string& scenario = "known") {
    run_start start;
    start.agent = "a";
    start.task = "t";
    start.model = "m";
    start.tools = {"complete"};
    start.scenario = scenario;
    event ev;
    ev.run_id = run_id;
    ev.seq = 1;
    ev.ts_us = t0_us;
    ev.body = start;
    journal_state().unfinished.push_back(run_id);
    journal_state().histories[run_id] = {ev};
  }

  caf::actor supervisor(size_t resume_concurrency = 64, uint32_t max_restarts = 3) {
    supervisor_config sc;
    sc.journal = journal;
    sc.resume_concurrency = resume_concurrency;
    sc.restarts.max_restarts = max_restarts;
    sc.id_prefix = "p";
    sc.wire = [this](const run_spec& spec) -> caf::expected<run_wiring> {
      if (spec.start.scenario != "known")
        return caf::make_error(runtime_errc::invalid_scenario,
                               "its scenario '" + spec.start.scenario + "' is unknown here");
      return wiring();
    };
    return spawn_run_supervisor(sys, std::move(sc));
  }

  // Sends a request, runs everything, and returns the reply (or the error).
  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& dest, Ts&&... xs) {
    caf::expected<T> out{caf::make_error(caf::sec::request_timeout)};
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    handle.receive([&](T& x) { out = std::move(x); }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  // Answers the oldest held model request with a successful `complete`.
  std::string answer_next() {
    auto& held = route_state().held;
    BOOST_REQUIRE(!held.empty());
    auto run_id = held.front().first;
    caf::anon_send(route, caf::ok_atom::value);
    sched.run();
    return run_id;
  }
};

bool ready(const std::shared_future<run_result>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_supervisor)

BOOST_FIXTURE_TEST_CASE(new_runs_get_the_next_id_of_this_process, fixture) {
  auto sup = supervisor();
  for (auto expected : {"p-1", "p-2"}) {
    run_launch l;
    l.wiring = wiring();
    l.spec.start.agent = "a";
    l.spec.start.tools = {"complete"};
    auto ticket = ask<run_ticket>(sup, start_atom::value, std::move(l));
    BOOST_REQUIRE_MESSAGE(ticket, render(ticket));
    BOOST_TEST(ticket->run_id == expected);
  }
  // A caller may choose the id (a job queue does), but not one in use.
  run_launch preset;
  preset.spec.run_id = "p-2";
  preset.wiring = wiring();
  auto refused = ask<run_ticket>(sup, start_atom::value, std::move(preset));
  BOOST_REQUIRE(!refused);
  BOOST_TEST(render(refused.error()).find("'p-2' is taken") != std::string::npos);
  BOOST_TEST(answer_next() == "p-1");
  auto r = ask<std::optional<run_result>>(sup, caf::get_atom::value, std::string{"p-1"});
  BOOST_REQUIRE(r && r->has_value());
  BOOST_TEST(to_string((*r)->status) == "completed");
  BOOST_TEST(!*ask<bool>(sup, cancel_atom::value, std::string{"p-1"})); // ended
  BOOST_TEST(*ask<bool>(sup, cancel_atom::value, std::string{"p-2"}));
  answer_next();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_FIXTURE_TEST_CASE(resume_takes_the_unfinished_runs_in_order_and_names_those_it_cannot,
                        fixture) {
  journal_unfinished("a");
  journal_unfinished("elsewhere");
  journal_unfinished("damaged");
  journal_unfinished("unknown", "missing");
  journal_unfinished("b");
  journal_state().claim_errors["elsewhere"] =
    caf::make_error(store_errc::run_owned, "j.db: run elsewhere is driven by pid 7");
  journal_state().read_errors["damaged"] =
    caf::make_error(store_errc::corrupted, "j.db: run damaged seq 3 is damaged (checksum)");
  auto sup = supervisor();
  auto outcomes = ask<resume_outcomes>(sup, resume_atom::value, resume_order{});
  BOOST_REQUIRE_MESSAGE(outcomes, render(outcomes));
  // Skipped: the run another process drives. Errors: the damaged and the
  // unwired run, in journal order among the resumed ones.
  BOOST_REQUIRE_EQUAL(outcomes->size(), 4u);
  BOOST_TEST((*outcomes)[0]->run_id == "a");
  BOOST_REQUIRE(!(*outcomes)[1]);
  BOOST_CHECK((*outcomes)[1].error() == store_errc::corrupted);
  BOOST_REQUIRE(!(*outcomes)[2]);
  BOOST_CHECK((*outcomes)[2].error() == runtime_errc::invalid_scenario);
  BOOST_TEST(render((*outcomes)[2].error())
             == "run unknown cannot resume: its scenario 'missing' is unknown here");
  BOOST_TEST((*outcomes)[3]->run_id == "b");
  BOOST_TEST((journal_state().claimed
              == std::vector<std::string>{"a", "elsewhere", "damaged", "unknown", "b"}));
  // Resuming again leaves the runs in flight alone.
  auto again = ask<resume_outcomes>(sup, resume_atom::value, resume_order{});
  BOOST_REQUIRE(again);
  BOOST_TEST(again->size() == 2u); // damaged and unknown, once more
  answer_next();
  answer_next();
  BOOST_TEST(ready((*outcomes)[0]->result));
  BOOST_TEST(to_string((*outcomes)[3]->result.get().status) == "completed");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_FIXTURE_TEST_CASE(at_most_resume_concurrency_resumed_runs_are_alive_at_once, fixture) {
  for (auto id : {"r1", "r2", "r3"})
    journal_unfinished(id);
  auto sup = supervisor(1);
  std::vector<std::string> told;
  auto outcomes = ask<resume_outcomes>(
    sup, resume_atom::value, resume_order{[&told](const run_result& r) { told.push_back(r.run_id); }});
  BOOST_REQUIRE(outcomes);
  BOOST_REQUIRE_EQUAL(outcomes->size(), 3u);
  BOOST_TEST(route_state().held.size() == 1u); // one alive, two waiting
  BOOST_TEST(answer_next() == "r1");
  BOOST_TEST(route_state().held.size() == 1u); // r2 took the freed slot
  BOOST_TEST(answer_next() == "r2");
  BOOST_TEST(answer_next() == "r3");
  BOOST_TEST((told == std::vector<std::string>{"r1", "r2", "r3"}));
  for (auto& o : *outcomes)
    BOOST_TEST(to_string(o->result.get().status) == "completed");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_FIXTURE_TEST_CASE(shutdown_cancels_runs_in_flight_and_leaves_waiting_ones_unfinished,
                        fixture) {
  journal_unfinished("r1");
  journal_unfinished("r2");
  auto sup = supervisor(1);
  auto outcomes = ask<resume_outcomes>(sup, resume_atom::value, resume_order{});
  BOOST_REQUIRE(outcomes && outcomes->size() == 2u);
  auto handle = self->request(sup, caf::infinite, shutdown_atom::value);
  sched.run();
  BOOST_TEST(!ready((*outcomes)[0]->result)); // r1 ends at its next step boundary
  auto waiting = (*outcomes)[1]->result.get();
  BOOST_TEST(to_string(waiting.status) == "running");
  BOOST_TEST(waiting.reason == "not_resumed");
  answer_next(); // the reply is journaled, then the cancel ends the run
  bool stopped = false;
  handle.receive([&] { stopped = true; }, [](caf::error& err) { BOOST_FAIL(render(err)); });
  BOOST_TEST(stopped);
  BOOST_TEST(to_string((*outcomes)[0]->result.get().status) == "canceled");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

// Old behaviour: the read error was dropped and the run failed with zero
// totals and no word about its journal.
BOOST_FIXTURE_TEST_CASE(giving_up_names_a_journal_it_could_not_read, fixture) {
  journal_state().read_errors["p-1"] =
    caf::make_error(store_errc::corrupted, "j.db: run p-1 seq 1 is damaged (checksum)");
  auto sup = supervisor(64, 0); // the first crash gives the run up
  std::optional<run_result> told;
  run_launch l;
  l.wiring = wiring();
  // Every journaled event crashes the run (an embedder's callback throwing).
  l.wiring.on_event = [](const event&) { throw std::runtime_error("injected crash"); };
  l.wiring.on_done = [&told](const run_result& r) { told = r; };
  l.spec.start.agent = "a";
  auto ticket = ask<run_ticket>(sup, start_atom::value, std::move(l));
  BOOST_REQUIRE(ticket);
  auto r = ticket->result.get();
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST(r.reason == "restart_intensity_exceeded");
  BOOST_TEST(r.summary.find("totals are unknown") != std::string::npos, r.summary);
  BOOST_TEST(r.summary.find("run p-1 seq 1 is damaged") != std::string::npos, r.summary);
  BOOST_REQUIRE(told.has_value());
  BOOST_TEST(told->summary == r.summary);
  // The failure is journaled all the same.
  auto& appended = journal_state().appended;
  BOOST_REQUIRE(!appended.empty());
  BOOST_TEST(std::holds_alternative<completion>(appended.back().body));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
