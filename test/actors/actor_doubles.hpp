#pragma once
// The deterministic actor system and scripted stand-ins for the actors a run
// talks to: journal, model route, tool pool and approvals. Each stand-in
// records what it received in a log the test reads, and either answers from
// a script or holds the reply until the test delivers it, so the test decides
// when each reply arrives. Under the testing scheduler every actor runs on
// the test's thread inside sched.run(), so the test reads the logs between
// runs without locks. Held replies are released by a message to the
// stand-in (`release_atom`): a response promise delivered from outside its
// actor's handler crashes CAF 0.17 (it enqueues on a stale execution unit).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <nlohmann/json.hpp>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/run.hpp"
#include "core/builtin_tools.hpp"
#include "core/policy.hpp"
#include "schemas/codec.hpp"
#include "schemas/stored_form.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"

namespace troupe::test {

/// Tells a stand-in to deliver what it holds (see each stand-in).
using release_atom = caf::atom_constant<caf::atom("release")>;

// -- the deterministic actor system ------------------------------------------

/// Nothing runs until the test calls sched.run(); timers and request
/// timeouts fire only on sched.advance_time() / sched.trigger_timeouts().
struct deterministic_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg.set("scheduler.policy", caf::atom("testing"))};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};

  // Stand-ins keep their logs alive and held promises keep actors
  // referenced: kill everything the test spawned, or ~actor_system waits
  // for them forever. A run a failed test left waiting is still referenced
  // by its request's pending timeout: firing it lets the run find its
  // journal gone and stop.
  ~deterministic_fixture() {
    for (auto& a : tracked)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    tracked.clear();
    sched.run();
    for (int i = 0; i < 100 && sched.has_pending_timeout(); ++i) {
      sched.trigger_timeouts();
      sched.run();
    }
  }

  /// Ends `a` with the fixture.
  caf::actor track(caf::actor a) {
    tracked.push_back(a);
    return a;
  }

  /// Expects `a` (monitored by `self`) to be down already; returns why.
  caf::error down_reason_of(const caf::actor& a) {
    caf::error reason = caf::make_error(caf::sec::runtime_error, "no down message");
    bool down = false;
    self->receive(
      [&](caf::down_msg& dm) {
        BOOST_CHECK(dm.source == a.address());
        down = true;
        reason = std::move(dm.reason);
      },
      caf::after(std::chrono::seconds(0)) >> [] {});
    BOOST_CHECK_MESSAGE(down, "the actor is still running");
    return reason;
  }

  /// True when `self` has no message waiting (e.g. no down message yet).
  bool mailbox_empty() { return self->mailbox().empty(); }

  std::vector<caf::actor> tracked;
};

// -- journal ------------------------------------------------------------------

/// What the journal stand-in received, in arrival order.
struct journal_log {
  struct append {
    event ev; ///< decoded, with the seq the stand-in stamped
    bool durable = false;
  };
  std::vector<append> appends;
  /// The error to refuse an append with; a default error accepts it.
  std::function<caf::error(const event&, bool durable)> refuse;
  /// When set, durable appends are acknowledged only on `release_atom`.
  bool hold_durable = false;
  std::vector<std::pair<caf::typed_response_promise<uint32_t>, uint32_t>> held;
  std::map<std::string, uint32_t> last_seq;

  /// One line per append: the kind, and "durable" for durable appends.
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (auto& a : appends)
      out.push_back(std::string(to_string(a.ev.kind())) + (a.durable ? " durable" : ""));
    return out;
  }

  /// The bodies of kind T, in order.
  template <class T>
  std::vector<T> bodies() const {
    std::vector<T> out;
    for (auto& a : appends)
      if (auto* x = std::get_if<T>(&a.ev.body))
        out.push_back(*x);
    return out;
  }
};

/// The whole encoded event a run's draft (header and stored body) stands
/// for; empty (and a test error) when the body does not unpack.
inline event_bytes whole_event(const persistence::sealed_event& draft) {
  auto& h = draft.header;
  event_envelope env{h.run_id, h.parent_run_id, h.root_run_id, h.seq, h.ts_us};
  auto full = from_stored(draft.stored.data(), draft.stored.size(), env);
  if (!full) {
    BOOST_ERROR("the run appended a stored body that does not unpack: " << render(full.error()));
    return {};
  }
  return std::move(*full);
}

inline caf::result<uint32_t> journal_double_append(caf::event_based_actor* self,
                                                   const std::shared_ptr<journal_log>& log,
                                                   const event_bytes& bytes, bool durable) {
  auto ev = decode(bytes);
  if (!ev) {
    // Not BOOST_REQUIRE: its exception would only crash this stand-in.
    BOOST_ERROR("the run appended bytes that do not decode: " << render(ev.error()));
    return std::move(ev.error());
  }
  if (log->refuse)
    if (auto err = log->refuse(*ev, durable))
      return err;
  ev->seq = ++log->last_seq[ev->run_id];
  log->appends.push_back({*ev, durable});
  if (durable && log->hold_durable) {
    auto rp = self->make_response_promise<uint32_t>();
    log->held.emplace_back(rp, ev->seq);
    return rp;
  }
  return ev->seq;
}

/// Speaks the journal's append protocol (actors/journal.hpp): decodes and
/// records every append, refuses the ones `log->refuse` names, and answers
/// with per-run seqs from 1. `release_atom` acknowledges the held durable
/// appends.
inline caf::actor spawn_journal_double(caf::actor_system& sys,
                                       std::shared_ptr<journal_log> log) {
  return sys.spawn([](caf::event_based_actor* self, std::shared_ptr<journal_log> log) -> caf::behavior {
    return {
      [=](release_atom) {
        auto waiting = std::move(log->held);
        log->held.clear();
        for (auto& [rp, seq] : waiting)
          rp.deliver(seq);
      },
      [=](append_atom, const event_bytes& bytes) {
        return journal_double_append(self, log, bytes, false);
      },
      [=](append_atom, const caf::actor& notify, const event_bytes& bytes) {
        auto seq = journal_double_append(self, log, bytes, false);
        if (seq.flag == caf::rt_error)
          self->send(notify, refused_atom::value, seq.err);
      },
      [=](append_atom, durable_atom, const event_bytes& bytes) {
        return journal_double_append(self, log, bytes, true);
      },
      [=](append_atom, const caf::actor& notify, const persistence::sealed_event& draft) {
        auto seq = journal_double_append(self, log, whole_event(draft), false);
        if (seq.flag == caf::rt_error)
          self->send(notify, refused_atom::value, seq.err);
      },
      [=](append_atom, durable_atom, const persistence::sealed_event& draft) {
        return journal_double_append(self, log, whole_event(draft), true);
      },
    };
  }, std::move(log));
}

/// The real journal actor on the fixture's scheduler (not detached).
inline caf::actor spawn_test_journal(caf::actor_system& sys, const std::string& path) {
  journal_config jc;
  jc.path = path;
  jc.detached = false;
  auto j = spawn_journal(sys, jc);
  BOOST_REQUIRE_MESSAGE(j, render(j));
  return *j;
}

// -- model route --------------------------------------------------------------

/// Delivers `reply` to the oldest request `held` holds.
template <class Promise, class Reply>
void deliver_oldest(std::vector<Promise>& held, Reply reply) {
  if (held.empty()) {
    BOOST_ERROR("release: no request is held");
    return;
  }
  auto rp = std::move(held.front());
  held.erase(held.begin());
  rp.deliver(std::move(reply));
}

/// What the route stand-in was asked; answers from `script` in order, and
/// holds requests once the script is used up. `(release_atom, reply)`
/// answers the oldest held request.
struct route_log {
  std::vector<model_call> calls;
  std::deque<model_response> script;
  std::vector<caf::typed_response_promise<model_response>> held;
  std::vector<std::string> canceled; ///< run ids whose requests were canceled
};

inline caf::actor spawn_route_double(caf::actor_system& sys, std::shared_ptr<route_log> log) {
  return sys.spawn([](caf::event_based_actor* self, std::shared_ptr<route_log> log) -> caf::behavior {
    return {
      [=](release_atom, model_response& r) { deliver_oldest(log->held, std::move(r)); },
      [=](complete_atom, const model_call& call) -> caf::result<model_response> {
        log->calls.push_back(call);
        if (!log->script.empty()) {
          auto r = std::move(log->script.front());
          log->script.pop_front();
          return r;
        }
        auto rp = self->make_response_promise<model_response>();
        log->held.push_back(rp);
        return rp;
      },
      [=](cancel_atom, const std::string& run_id) { log->canceled.push_back(run_id); },
    };
  }, std::move(log));
}

/// A reply asking for one tool call.
inline model_response reply_calling(std::string call_id, std::string tool,
                                    std::string args_json) {
  model_response r;
  r.text = "calling " + tool;
  r.tool_calls.push_back({std::move(call_id), std::move(tool), std::move(args_json)});
  r.tokens = {10, 5};
  return r;
}

/// A reply that ends the run successfully.
inline model_response reply_completing(std::string call_id = "done") {
  return reply_calling(std::move(call_id), "complete",
                       R"({"status":"success","answer":"finished"})");
}

// -- tools --------------------------------------------------------------------

/// What the tool-pool stand-in was asked; answers from `script` in order, and
/// holds requests once the script is used up. `(release_atom, outcome)`
/// answers the oldest held request. A `complete` call is answered at once as
/// the real pool would (the answer echoed) and recorded apart, in
/// `completes`: the run loop should never send it (see run_actor_test), and
/// the other tests are not about that.
struct tools_log {
  std::vector<tool_request> requests;
  std::vector<tool_request> completes;
  std::deque<tool_outcome> script;
  std::vector<caf::typed_response_promise<tool_outcome>> held;
};

inline caf::actor spawn_tools_double(caf::actor_system& sys, std::shared_ptr<tools_log> log) {
  return sys.spawn([](caf::event_based_actor* self, std::shared_ptr<tools_log> log) -> caf::behavior {
    return {
      [=](release_atom, tool_outcome& out) { deliver_oldest(log->held, std::move(out)); },
      [=](execute_atom, const tool_request& req, int64_t) -> caf::result<tool_outcome> {
        if (req.name == "complete") {
          log->completes.push_back(req);
          auto args = nlohmann::json::parse(req.args_json, nullptr, false);
          return tool_outcome{true, args.value("answer", std::string{}), false};
        }
        log->requests.push_back(req);
        if (!log->script.empty()) {
          auto out = std::move(log->script.front());
          log->script.pop_front();
          return out;
        }
        auto rp = self->make_response_promise<tool_outcome>();
        log->held.push_back(rp);
        return rp;
      },
    };
  }, std::move(log));
}

// -- approvals ------------------------------------------------------------------

/// Tickets the approvals stand-in received; it never decides by itself:
/// `(release_atom, decision)` answers the oldest held ticket.
struct approvals_log {
  std::vector<approval_ticket> tickets;
  std::vector<caf::typed_response_promise<approval_decision>> held;
};

inline caf::actor spawn_approvals_double(caf::actor_system& sys,
                                         std::shared_ptr<approvals_log> log) {
  return sys.spawn([](caf::event_based_actor* self, std::shared_ptr<approvals_log> log) -> caf::behavior {
    return {
      [=](release_atom, approval_decision& d) { deliver_oldest(log->held, std::move(d)); },
      [=](approval_atom, const approval_ticket& t) -> caf::result<approval_decision> {
        log->tickets.push_back(t);
        auto rp = self->make_response_promise<approval_decision>();
        log->held.push_back(rp);
        return rp;
      },
    };
  }, std::move(log));
}

// -- a run's wiring -------------------------------------------------------------

/// What a run told its owner through its callbacks.
struct run_probe {
  std::vector<event> events; ///< on_event, in order
  std::vector<run_result> done; ///< on_done, every call
};

/// A new run offering `tools`.
inline run_spec new_run_spec(const std::string& run_id,
                             std::vector<std::string> tools = {"echo", "complete"}) {
  run_spec spec;
  spec.run_id = run_id;
  spec.root_run_id = run_id;
  spec.start.agent = "lead";
  spec.start.task = "call echo, then complete";
  spec.start.model = "scripted";
  spec.start.tools = std::move(tools);
  spec.start.workspace = "/nonexistent-workspace"; // the tool stand-in never looks
  return spec;
}

/// `echo` (pure), `append_file` (unsafe) and `complete`, the tools these
/// tests call (the tool stand-in answers in place of the real ones).
inline std::shared_ptr<const tool_registry> test_registry() {
  auto reg = std::make_shared<tool_registry>();
  BOOST_REQUIRE(!reg->add(make_echo_tool()));
  BOOST_REQUIRE(!reg->add(make_append_file_tool()));
  BOOST_REQUIRE(!reg->add(make_complete_tool()));
  return reg;
}

/// A run wired to the given actors, the default policy (echo and complete
/// allowed), no approver, and a clock that advances 1 ms per reading so
/// timestamps never depend on the machine. `probe` hears the callbacks.
inline run_wiring test_wiring(caf::actor journal, caf::actor route, caf::actor tools,
                              std::shared_ptr<run_probe> probe) {
  run_wiring w;
  w.journal = std::move(journal);
  w.route = std::move(route);
  w.tools = std::move(tools);
  w.registry = test_registry();
  w.governance = std::make_shared<const policy>(default_policy());
  auto now = std::make_shared<int64_t>(base_ts_us);
  w.clock = [now] { return *now += 1000; };
  w.on_event = [probe](const event& ev) { probe->events.push_back(ev); };
  w.on_done = [probe](const run_result& r) { probe->done.push_back(r); };
  w.model_timeout = std::chrono::seconds(30);
  w.tool_timeout = std::chrono::seconds(5);
  return w;
}

} // namespace troupe::test
