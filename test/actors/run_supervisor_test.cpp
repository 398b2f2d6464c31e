// The run supervisor under the deterministic scheduler, against a journal
// double: what it tells a run's owner when it gives the run up.

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/run_supervisor.hpp"
#include "core/builtin_tools.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

struct journal_double_state {
  static inline const char* name = "journal_double";
  std::vector<event_bytes> appended;
  std::vector<event_bytes> read_reply; ///< what (read_atom, run_id) answers
};

// Accepts every append; answers reads with `read_reply` whatever the run.
caf::behavior journal_double(caf::stateful_actor<journal_double_state>* self,
                             std::vector<event_bytes> read_reply) {
  self->state.read_reply = std::move(read_reply);
  auto append = [=](event_bytes& bytes) {
    self->state.appended.push_back(std::move(bytes));
    return static_cast<uint32_t>(self->state.appended.size());
  };
  return {
    [=](append_atom, event_bytes& bytes) { return append(bytes); },
    [=](append_atom, durable_atom, event_bytes& bytes) { return append(bytes); },
    [=](read_atom, const std::string&) { return self->state.read_reply; },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg.set("scheduler.policy", caf::atom("testing"))};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());

  template <class State>
  State& state_of(const caf::actor& h) {
    return dynamic_cast<caf::stateful_actor<State>&>(*caf::actor_cast<caf::abstract_actor*>(h))
      .state;
  }

  // A run whose every journaled event crashes it (an embedder's callback
  // throwing); `done` receives what its owner is told.
  run_wiring crashing_wiring(caf::actor journal, std::shared_ptr<std::optional<run_result>> done) {
    auto registry = std::make_shared<tool_registry>();
    BOOST_REQUIRE(!register_builtin_tools(*registry));
    run_wiring w;
    w.journal = std::move(journal);
    w.registry = registry;
    w.governance = std::make_shared<const policy>(default_policy());
    w.clock = [] { return int64_t{1700000000000000}; };
    w.on_event = [](const event&) { throw std::runtime_error("injected crash"); };
    w.on_done = [done](const run_result& r) { *done = r; };
    return w;
  }

  ~fixture() { sched.run(); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(run_supervisor)

// Old behaviour: the decode error was dropped and the run failed with zero
// totals and no word about its journal.
BOOST_FIXTURE_TEST_CASE(giving_up_names_a_journal_row_that_does_not_decode, fixture) {
  auto journal = sys.spawn(journal_double, std::vector<event_bytes>{event_bytes(24, 'x')});
  restart_policy rp;
  rp.max_restarts = 0; // the first crash gives the run up
  auto sup = spawn_run_supervisor(sys, journal, rp);
  auto done = std::make_shared<std::optional<run_result>>();
  run_spec spec;
  spec.run_id = "r-1";
  spec.start.agent = "a";
  spec.start.task = "t";
  caf::anon_send(sup, start_atom::value, run_launch{spec, crashing_wiring(journal, done)});
  sched.run();
  BOOST_REQUIRE(done->has_value());
  auto& r = **done;
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST(r.reason == "restart_intensity_exceeded");
  BOOST_TEST(r.summary.find("totals are unknown") != std::string::npos, r.summary);
  BOOST_TEST(r.summary.find("run r-1 seq 1") != std::string::npos, r.summary);
  // The failure is journaled all the same.
  auto& appended = state_of<journal_double_state>(journal).appended;
  BOOST_REQUIRE(!appended.empty());
  auto last = decode(appended.back());
  BOOST_REQUIRE(last);
  BOOST_TEST(std::holds_alternative<completion>(last->body));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
