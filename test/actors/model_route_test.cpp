// The model route (actors/model_route.hpp): it answers (complete_atom,
// model_call) with the provider's model_response; a provider's reported
// failure is a reply; a provider that throws fails the request it was
// serving, not the route, whose worker restarts after a backoff; a blocking
// provider runs on its own thread. Most tests run on the deterministic
// scheduler with a non-blocking provider; the blocking one needs real
// threads and waits on futures with generous bounds.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/model_route.hpp"
#include "test/actors/actor_doubles.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

/// Answers "reply to <run_id>"; a run id starting with "boom" throws (a
/// provider bug), "fail" is a failure the provider reports. Records the run
/// ids in the order it served them.
class scripted_provider : public model_provider {
public:
  explicit scripted_provider(std::shared_ptr<std::vector<std::string>> served)
    : served_(std::move(served)) {}

  model_response complete(const model_call& call) override {
    served_->push_back(call.run_id);
    if (call.run_id.rfind("boom", 0) == 0)
      throw std::runtime_error("provider bug");
    model_response r;
    if (call.run_id == "fail")
      r.failure = "rate_limited";
    else
      r.text = "reply to " + call.run_id;
    return r;
  }

private:
  std::shared_ptr<std::vector<std::string>> served_;
};

model_call call_of(const std::string& run_id) {
  model_call c;
  c.run_id = run_id;
  c.agent = "lead";
  c.model = "scripted";
  return c;
}

/// The outcome of one request: the reply's text (or failure), or the error.
struct outcome {
  bool answered = false;
  model_response reply;
  caf::error error;
};

struct route_fixture : deterministic_fixture {
  std::shared_ptr<std::vector<std::string>> served =
    std::make_shared<std::vector<std::string>>();
  std::shared_ptr<scripted_provider> provider = std::make_shared<scripted_provider>(served);
  caf::actor route = track(spawn_model_route(sys, "scripted", provider));

  using handle = decltype(std::declval<caf::scoped_actor&>()->request(
    std::declval<caf::actor&>(), caf::infinite, complete_atom::value, model_call{}));

  handle ask(const std::string& run_id) {
    return self->request(route, caf::infinite, complete_atom::value, call_of(run_id));
  }

  /// The reply to `h`, which must be in the mailbox already.
  outcome outcome_of(handle& h) {
    outcome out;
    h.receive(
      [&](model_response& r) {
        out.answered = true;
        out.reply = std::move(r);
      },
      [&](caf::error& err) {
        out.answered = true;
        out.error = std::move(err);
      });
    return out;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(model_route)

// One worker serves the route's requests one at a time, in arrival order,
// and each reply goes to its own request.
BOOST_FIXTURE_TEST_CASE(requests_are_served_in_order_each_reply_to_its_request,
                        route_fixture) {
  auto a = ask("a");
  auto b = ask("b");
  auto c = ask("c");
  sched.run();
  BOOST_TEST(*served == (std::vector<std::string>{"a", "b", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(outcome_of(a).reply.text == "reply to a");
  BOOST_TEST(outcome_of(b).reply.text == "reply to b");
  BOOST_TEST(outcome_of(c).reply.text == "reply to c");
}

// A failure the provider reports (rate limited, exhausted, ...) is an
// ordinary reply the run journals; the route does not restart for it.
BOOST_FIXTURE_TEST_CASE(a_reported_failure_is_a_reply, route_fixture) {
  auto h = ask("fail");
  sched.run();
  auto out = outcome_of(h);
  BOOST_REQUIRE(out.answered);
  BOOST_REQUIRE_MESSAGE(!out.error, render(out.error));
  BOOST_TEST(out.reply.failure == "rate_limited");
  auto next = ask("next");
  sched.run(); // no backoff to wait out
  BOOST_TEST(outcome_of(next).reply.text == "reply to next");
}

// A provider that throws fails the request it was serving with an error
// (the run journals a failed reply and goes on) and leaves the route alive.
// Requests arriving while its worker restarts wait for the new worker
// (after a 5 ms backoff) instead of failing.
BOOST_FIXTURE_TEST_CASE(a_throwing_provider_fails_its_request_not_the_route,
                        route_fixture) {
  self->monitor(route);
  auto boom = ask("boom");
  sched.run();
  auto out = outcome_of(boom);
  BOOST_REQUIRE(out.answered);
  BOOST_TEST(static_cast<bool>(out.error), "a throwing provider produced a reply");
  BOOST_TEST(mailbox_empty(), "the route went down with its provider");
  auto held = ask("while-restarting");
  sched.run();
  BOOST_TEST(served->size() == 1u, "served before the worker restarted");
  sched.advance_time(5ms);
  sched.run();
  BOOST_TEST(outcome_of(held).reply.text == "reply to while-restarting");
  auto later = ask("later");
  sched.run();
  BOOST_TEST(outcome_of(later).reply.text == "reply to later");
}

// "A model route that fails answers the one request in flight with an
// error" (docs/architecture.md): requests already queued behind the one
// that threw belong to other runs sharing the route, and are answered after
// the restart like those that arrive during it.
BOOST_FIXTURE_TEST_CASE(requests_queued_behind_a_throw_are_served_after_the_restart,
                        route_fixture) {
  auto boom = ask("boom");
  auto b = ask("b");
  auto c = ask("c");
  sched.run();
  sched.advance_time(5ms);
  sched.run();
  BOOST_TEST(static_cast<bool>(outcome_of(boom).error));
  auto ob = outcome_of(b);
  auto oc = outcome_of(c);
  BOOST_TEST(ob.reply.text == "reply to b", "b: " << render(ob.error));
  BOOST_TEST(oc.reply.text == "reply to c", "c: " << render(oc.error));
  BOOST_TEST(*served == (std::vector<std::string>{"boom", "b", "c"}),
             boost::test_tools::per_element());
}

// Each crash doubles the backoff (5, 10, 20 ms, capped at 1 s).
BOOST_FIXTURE_TEST_CASE(repeated_crashes_double_the_backoff, route_fixture) {
  auto first = ask("boom-1");
  sched.run();
  sched.advance_time(5ms);
  sched.run();
  auto second = ask("boom-2");
  sched.run();
  BOOST_TEST(served->size() == 2u);
  auto waiting = ask("after-two-crashes");
  sched.advance_time(9ms);
  sched.run();
  BOOST_TEST(served->size() == 2u, "restarted before the doubled backoff");
  sched.advance_time(1ms);
  sched.run();
  BOOST_TEST(outcome_of(waiting).reply.text == "reply to after-two-crashes");
  outcome_of(first);
  outcome_of(second);
}

// The provider is owned by the route: when the route is told to exit (the
// runtime shutting down), its worker ends too and the provider is released,
// although the route's handle is still held (a leftover worker would keep
// the actor system from shutting down).
BOOST_FIXTURE_TEST_CASE(the_provider_goes_with_the_route, route_fixture) {
  std::weak_ptr<scripted_provider> watch = provider;
  provider.reset();
  auto h = ask("a");
  sched.run();
  outcome_of(h);
  BOOST_REQUIRE(!watch.expired());
  caf::anon_send_exit(route, caf::exit_reason::user_shutdown);
  sched.run();
  BOOST_TEST(watch.expired(), "the provider outlived its route");
}

// -- a blocking provider, on real threads --------------------------------------

namespace {

/// Blocks in complete() until the test opens the gate, as an HTTP provider
/// blocks on the network.
class gated_provider : public model_provider {
public:
  explicit gated_provider(std::shared_future<void> gate) : gate_(std::move(gate)) {}

  bool blocking() const override { return true; }

  model_response complete(const model_call& call) override {
    entered_.set_value();
    // Bounded, so a failing test cannot hang the process on this thread.
    if (gate_.wait_for(60s) != std::future_status::ready)
      return {"", {}, {}, "gate never opened"};
    return {"reply to " + call.run_id, {}, {}, ""};
  }

  std::future<void> entered() { return entered_.get_future(); }

private:
  std::shared_future<void> gate_;
  std::promise<void> entered_;
};

} // namespace

// One scheduler thread: if the blocking provider ran on it, no other actor
// could run until the provider returned. On its own thread, another route
// answers while it blocks.
BOOST_AUTO_TEST_CASE(a_blocking_provider_does_not_stall_other_actors) {
  std::promise<void> open;
  auto gated = std::make_shared<gated_provider>(open.get_future().share());
  auto entered = gated->entered();
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  {
    caf::scoped_actor self{sys};
    auto slow = spawn_model_route(sys, "slow", gated);
    auto served = std::make_shared<std::vector<std::string>>();
    auto fast = spawn_model_route(sys, "fast", std::make_shared<scripted_provider>(served));
    auto slow_reply = self->request(slow, 60s, complete_atom::value, call_of("slow"));
    BOOST_REQUIRE(entered.wait_for(60s) == std::future_status::ready);
    std::string fast_text;
    self->request(fast, 60s, complete_atom::value, call_of("fast"))
      .receive([&](model_response& r) { fast_text = r.text; },
               [&](caf::error& err) { fast_text = render(err); });
    open.set_value();
    BOOST_TEST(fast_text == "reply to fast");
    std::string slow_text;
    slow_reply.receive([&](model_response& r) { slow_text = r.text + r.failure; },
                       [&](caf::error& err) { slow_text = render(err); });
    BOOST_TEST(slow_text == "reply to slow");
  }
}

BOOST_AUTO_TEST_SUITE_END()
