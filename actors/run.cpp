#include "actors/run.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "core/delegation.hpp"
#include "core/verification.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/run_rebuild.hpp"
#include "core/sandbox_spec.hpp"
#include "core/runtime_errc.hpp"
#include "core/run_state.hpp"
#include "core/saturating_time.hpp"
#include "core/tool_budget.hpp"
#include "schemas/codec.hpp"
#include "schemas/stored_form.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

struct run_actor_state {
  static inline const char* name = "troupe.run";
  run_spec spec;
  run_wiring wiring;
  run_state st;
  bool stopped = false;
  /// `start` was handled: the state is the run's (new, or read back).
  bool started = false;
  /// A cancel that arrived before `start`, taken once the state is known.
  bool cancel_pending = false;
  /// Calls whose intent was journaled before a crash, without a result.
  std::set<std::string> recovered_calls;
  std::map<std::string, uint32_t> attempts; ///< per call id
  /// Calls whose tool is running: decided again (another input came in
  /// meanwhile), they are not sent twice.
  std::set<std::string> executing;
  /// A durable append is in flight; the next decision waits for its COMMIT
  /// (nothing may act on the world before the intent before it is durable).
  bool committing = false;
  bool decide_after_commit = false; ///< an input arrived while committing
};

using run_actor = caf::stateful_actor<run_actor_state>;

void drive(run_actor* self);

// The journal failed under us: the run cannot record anything more, so it
// stops and reports `failed`; what was acknowledged durable stays on disk.
void abort_run(run_actor* self, const caf::error& err) {
  auto& s = self->state;
  if (s.stopped)
    return;
  s.stopped = true;
  auto r = result_of(s.st);
  if (err == journal_errc::not_owner) {
    // Not a failure of the run: another process drives it from its journal.
    spdlog::warn("run {}: handed over: {}", s.spec.run_id, render(err));
    r.status = run_status::running;
    r.reason = "owned_elsewhere";
    r.summary = render(err);
  } else {
    spdlog::error("run {}: journal append failed: {}", s.spec.run_id, render(err));
    r.status = run_status::failed;
    r.reason = "journal_failed";
    r.summary = "the journal refused an append: " + render(err);
  }
  if (s.wiring.on_done)
    s.wiring.on_done(r);
  self->quit();
}

// Backoff jitter. Each draw is journaled in its `retry` event (replay reads
// it, never draws), so one engine per thread serves every run: a run does
// not carry 2.5 KB of generator state, nor seed one, for a retry it may
// never make.
std::mt19937_64& jitter_source() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

event make_event(run_actor* self, event_body body) {
  auto& s = self->state;
  event ev;
  ev.run_id = s.spec.run_id;
  ev.parent_run_id = s.spec.parent_run_id;
  // Empty for a top-level run (its own root): saves the id on every event.
  ev.root_run_id = s.spec.root_run_id == s.spec.run_id ? std::string{} : s.spec.root_run_id;
  ev.ts_us = s.wiring.clock();
  ev.body = std::move(body);
  return ev;
}

template <class Draft>
void send_append(run_actor* self, Draft&& draft, std::function<void()> then) {
  auto& s = self->state;
  if (then)
    self->request(s.wiring.journal, caf::infinite, append_atom::value,
                  durable_atom::value, std::forward<Draft>(draft))
      .then([=](uint32_t) { then(); }, [=](caf::error& err) { abort_run(self, err); });
  else
    caf::anon_send(s.wiring.journal, append_atom::value, caf::actor_cast<caf::actor>(self),
                   std::forward<Draft>(draft));
}

// Folds the event into the state and hands it to the journal. `then` runs
// after a durable append's COMMIT. An accepted append keeps the run going at
// once and is quiet: no reply wakes the run for each event, only a refusal
// comes back (refused_atom), and the journal writes nothing more of the run
// after it (actors/journal.hpp).
void emit(run_actor* self, event_body body,
          std::function<void()> then = nullptr) {
  auto& s = self->state;
  auto ev = make_event(self, std::move(body));
  apply(s.st, ev);
  if (s.wiring.on_event)
    s.wiring.on_event(ev);
  auto bytes = encode(ev);
  // The stored form is made here, on one of CAF's workers, so the journal's
  // single writer neither parses nor packs the event. (Bytes it cannot be
  // made of go as they are: the journal refuses them as bad_event.)
  auto stored = to_stored(bytes);
  if (!stored) {
    send_append(self, std::move(bytes), std::move(then));
    return;
  }
  event_header header{std::move(ev.run_id), std::move(ev.parent_run_id),
                      std::move(ev.root_run_id), 0, ev.ts_us, ev.kind()};
  send_append(self, persistence::sealed_event{std::move(header), {}, std::move(*stored)},
              std::move(then));
}

std::vector<tool_spec> specs_for(const tool_registry& reg,
                                 const std::vector<std::string>& names) {
  std::vector<tool_spec> out;
  out.reserve(names.size());
  for (auto& n : names)
    if (auto* spec = reg.spec(n))
      out.push_back(*spec);
  return out;
}

// Sends the current turn's model request; its model_request is journaled.
// Deterministic providers answer a request sent again after a restart by
// position.
void send_model_request(run_actor* self, const std::vector<std::string>& tools) {
  auto& s = self->state;
  model_call call;
  call.run_id = s.spec.run_id;
  call.agent = s.st.agent;
  call.model = s.st.model;
  call.turn = s.st.turn;
  call.request_index = s.st.totals.model_calls - 1;
  call.messages = s.st.chat.conversation;
  call.tools = specs_for(*s.wiring.registry, tools);
  auto t0 = s.wiring.clock();
  auto turn = s.st.turn;
  self->request(s.wiring.route, s.wiring.model_timeout, complete_atom::value,
                std::move(call))
    .then(
      [=](model_response& r) {
        auto latency = static_cast<uint64_t>(self->state.wiring.clock() - t0);
        for (auto& attempt : r.attempts) {
          attempt.turn = turn;
          emit(self, std::move(attempt));
        }
        emit(self, model_reply{turn, std::move(r.text), std::move(r.tool_calls), r.tokens,
                               std::move(r.failure), latency, std::move(r.endpoint),
                               std::move(r.model), r.first_token_us, r.cost_micro_usd,
                               std::move(r.finish_reason), std::move(r.failure_detail)});
        drive(self);
      },
      [=](caf::error& err) {
        auto failure = err == caf::sec::request_timeout ? "timeout"
                                                        : "server_error";
        emit(self, model_reply{turn, "", {}, {}, failure, 0});
        drive(self);
      });
}

// Asks the approvals actor; its answer (or the deadline passing) becomes the
// approval_decision that lets the call run or refuses it.
void wait_for_approval(run_actor* self, const approval_request& req) {
  auto& s = self->state;
  auto decided = [=](approval_decision d) {
    if (self->state.st.phase == run_phase::finished)
      return; // canceled while it waited
    emit(self, std::move(d));
    drive(self);
  };
  if (!s.wiring.approvals) {
    decided({req.call_id, false, "troupe", "no approver is configured; `ask` fails closed"});
    return;
  }
  // The approvals actor denies at the deadline and records it; this timeout
  // only guards against that actor never answering. Past a year it is left
  // out: a steady-clock time point that far ahead would overflow, and
  // firing early would deny a call the approvals table still shows pending.
  auto left_us = elapsed_us(s.wiring.clock(), req.deadline_us);
  constexpr int64_t guard_horizon_us = int64_t{365} * 24 * 3600 * 1000000;
  caf::duration timeout = caf::infinite;
  if (left_us < guard_horizon_us)
    timeout = caf::duration{std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(left_us) + std::chrono::seconds(5))};
  self->request(s.wiring.approvals, timeout, approval_atom::value,
                approval_ticket{s.spec.run_id, req})
    .then([=](approval_decision& d) { decided(std::move(d)); },
          [=](caf::error& err) {
            decided({req.call_id, false, "timeout",
                     "no decision before the deadline (" + render(err) + ")"});
          });
}

using retry_atom = caf::atom_constant<caf::atom("retry")>;

// Journals a failed result for `req` and goes on.
void fail_tool_call(run_actor* self, const tool_request& req, std::string text) {
  emit(self, tool_result{req.call_id, req.name, false, std::move(text)});
  drive(self);
}

// Runs the tool. A retryable failure is tried again as plan_retry decides
// (the jitter draw is journaled); anything else becomes the call's result.
// The wait never outlasts the run's deadline (tool_wait_for); a call the
// deadline leaves no time for is not started, and the worker skips one whose
// wait ended before it got to it.
void send_tool_request(run_actor* self, tool_request req) {
  auto& s = self->state;
  s.executing.insert(req.call_id);
  auto w = tool_wait_for(s.wiring.tool_timeout, s.st.limits.deadline_ms, s.st.started_us,
                         s.wiring.clock());
  if (w.wait.count() == 0) {
    fail_tool_call(self, req, tool_not_started_text(req.name, s.st.limits.deadline_ms));
    return;
  }
  auto give_up = std::chrono::steady_clock::now() + w.wait;
  int64_t give_up_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         give_up.time_since_epoch())
                         .count();
  auto executor = s.wiring.tools;
  if (auto server = mcp_server_of(req.name)) {
    auto i = s.wiring.mcp_servers.find(*server);
    if (i == s.wiring.mcp_servers.end()) {
      fail_tool_call(self, req, req.name + ": mcp server '" + *server + "' is not wired to "
                                  "this run (its scenario does not declare it)");
      return;
    }
    executor = i->second;
  }
  self->request(executor, w.wait, execute_atom::value, req, give_up_ns)
    .then(
      [=](tool_outcome& out) {
        auto& st = self->state;
        auto attempt = ++st.attempts[req.call_id];
        if (!out.ok && out.retryable) {
          double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_source());
          if (auto r = plan_retry(req.call_id, attempt, true, jitter, st.wiring.retries,
                                  out.output)) {
            auto delay = std::chrono::microseconds(r->delay_us);
            emit(self, std::move(*r));
            self->delayed_send(self, delay, retry_atom::value, req);
            return;
          }
        }
        if (st.wiring.redactions && !st.wiring.redactions->empty())
          out.output = redact(out.output, *st.wiring.redactions);
        st.executing.erase(req.call_id);
        emit(self, tool_result{req.call_id, req.name, out.ok, std::move(out.output)});
        drive(self);
      },
      [=](caf::error& err) {
        self->state.executing.erase(req.call_id);
        fail_tool_call(self, req, err == caf::sec::request_timeout
                                    ? tool_timeout_text(req.name, w)
                                    : req.name + ": " + render(err));
      });
}

// Asks the supervisor for the child of a journaled delegation (new, running,
// or ended before a crash) and journals how it ended. The child's budget and
// deadline bound it, so the wait has no timeout of its own.
void attach_child(run_actor* self, const delegation& d) {
  auto& s = self->state;
  if (!s.executing.insert(d.call_id).second)
    return;
  auto returned = [=](const run_result& r) {
    auto& st = self->state;
    st.executing.erase(d.call_id);
    if (st.stopped || !child_running(st.st, d.call_id))
      return; // the run ended without it (children_on_end = cancel)
    auto result = delegation_result_of(d, r);
    auto shown = delegation_tool_result(d, result);
    emit(self, std::move(result));
    if (st.st.team.empty()) // a team shows no model anything
      emit(self, std::move(shown));
    drive(self);
  };
  auto supervisor = caf::actor_cast<caf::actor>(s.wiring.supervisor);
  if (!supervisor) {
    returned(run_result{d.child_run_id, run_status::failed, "",
                        "no run supervisor is wired to this run; the child did not start",
                        "not_started", {}});
    return;
  }
  auto root = s.spec.root_run_id.empty() ? s.spec.run_id : s.spec.root_run_id;
  self->request(supervisor, caf::infinite, delegate_atom::value,
                child_order{s.spec.run_id, root, s.spec.start, d})
    .then([=](run_result& r) { returned(r); },
          [=](caf::error& err) {
            returned(run_result{d.child_run_id, run_status::failed, "",
                                "the child could not run: " + render(err), "not_started", {}});
          });
}

// Runs the task's checks through the tool pool's `_verify` tool and journals
// the verification (an input). The wait is a tool call's.
void run_task_checks(run_actor* self, const run_checks& checks) {
  auto& s = self->state;
  auto key = "verify-" + std::to_string(checks.attempt);
  if (!s.executing.insert(key).second)
    return; // running already
  auto w = tool_wait_for(s.wiring.tool_timeout, s.st.limits.deadline_ms, s.st.started_us,
                         s.wiring.clock());
  auto attempt = checks.attempt;
  auto done = [=](bool ok, const std::string& output) {
    auto& st = self->state;
    st.executing.erase(key);
    if (st.stopped || st.st.phase == run_phase::finished)
      return;
    emit(self, verification_of(attempt, st.st.verification, ok, output));
    drive(self);
  };
  if (w.wait.count() == 0) {
    done(false, "the run's deadline leaves no time for its checks");
    return;
  }
  auto give_up = std::chrono::steady_clock::now() + w.wait;
  int64_t give_up_ns =
    std::chrono::duration_cast<std::chrono::nanoseconds>(give_up.time_since_epoch()).count();
  tool_request req{s.spec.run_id, "verify-" + std::to_string(attempt), std::string(verify_tool),
                   checks.request, s.spec.start.workspace, {}, false, false};
  self->request(s.wiring.tools, w.wait, execute_atom::value, std::move(req), give_up_ns)
    .then([=](tool_outcome& out) { done(out.ok, out.output); },
          [=](caf::error& err) { done(false, render(err)); });
}

// Children of a run that ends or is canceled are canceled too (they journal
// `canceled` and end; a parent that is still running gets their results).
void cancel_children(run_actor* self) {
  auto& s = self->state;
  auto supervisor = caf::actor_cast<caf::actor>(s.wiring.supervisor);
  if (!supervisor)
    return;
  for (auto& d : s.st.children)
    caf::anon_send(supervisor, cancel_atom::value, d.child_run_id);
}

void stop_run(run_actor* self) {
  auto& s = self->state;
  cancel_children(self);
  s.stopped = true;
  if (s.wiring.on_done)
    s.wiring.on_done(result_of(s.st));
  self->quit();
}

// Performs what follows a decision's events. Returns true when the run
// decides again at once.
bool perform(run_actor* self, const run_effect& effect) {
  auto& s = self->state;
  if (s.stopped)
    return false;
  return std::visit(
    [&](auto& x) -> bool {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, go_on>) {
        return true;
      } else if constexpr (std::is_same_v<T, ask_model>) {
        send_model_request(self, x.tools);
      } else if constexpr (std::is_same_v<T, run_tool>) {
        if (s.executing.count(x.call.call_id) > 0)
          return false; // running already; its result wakes the run
        send_tool_request(self, tool_request{s.spec.run_id, x.call.call_id, x.call.name,
                                             x.call.args_json, s.spec.start.workspace,
                                             x.grants.secrets, x.grants.network,
                                             x.grants.unsandboxed});
      } else if constexpr (std::is_same_v<T, await_approval>) {
        wait_for_approval(self, x.request);
      } else if constexpr (std::is_same_v<T, run_checks>) {
        run_task_checks(self, x);
      } else if constexpr (std::is_same_v<T, start_child>) {
        attach_child(self, x.child);
        return true; // the calls after it go on meanwhile
      } else if constexpr (std::is_same_v<T, stop>) {
        stop_run(self);
      }
      return false; // idle: an input wakes the run
    },
    effect);
}

// Decides and performs until the run has to wait for a reply or a commit.
void drive(run_actor* self) {
  auto& s = self->state;
  if (s.committing) {
    s.decide_after_commit = true;
    return;
  }
  while (!s.stopped && s.st.phase != run_phase::finished) {
    auto d = decide_next(s.st, decision_inputs{*s.wiring.registry, *s.wiring.governance,
                                               s.wiring.clock(), &s.recovered_calls});
    if (d.wait == durability::durable && !d.journal.empty()) {
      auto last = std::move(d.journal.back());
      d.journal.pop_back();
      for (auto& body : d.journal)
        emit(self, std::move(body));
      s.committing = true;
      emit(self, std::move(last), [=, effect = std::move(d.effect)] {
        auto& st = self->state;
        st.committing = false;
        bool again = perform(self, effect) || st.decide_after_commit;
        st.decide_after_commit = false;
        if (again)
          drive(self);
      });
      return;
    }
    for (auto& body : d.journal)
      emit(self, std::move(body));
    if (!perform(self, d.effect))
      return;
  }
}

// Reads a journaled run back: restores its latest checkpoint and folds the
// events after it. The run then decides as if the process had never stopped
// (a journaled model request is sent again, a pending approval keeps its
// deadline, a due checkpoint is written).
void resume(run_actor* self) {
  auto& s = self->state;
  auto journal = std::move(s.spec.resumed);
  auto& run = *journal;
  auto from = run.from_seq();
  auto tail = run.tail.size();
  if (!run.passed_over.empty())
    spdlog::warn("{}; resuming from {}", run.passed_over, // it names the run
                 from != 0 ? "the checkpoint at seq " + std::to_string(from) : "run_start");
  s.st = fold_tail(std::move(run));
  journal.reset();
  for (auto& slot : s.st.calls)
    if (slot.status == call_slot::state::in_flight)
      s.recovered_calls.insert(slot.call.call_id);
  spdlog::info("run {}: resumed from {} events ({} calls without results)", s.spec.run_id,
               from != 0 ? "the checkpoint at seq " + std::to_string(from) + " and "
                             + std::to_string(tail) + " later"
                         : "run_start: " + std::to_string(tail),
               s.recovered_calls.size());
}

caf::behavior run_behavior(run_actor* self, run_spec spec, run_wiring wiring) {
  self->state.spec = std::move(spec);
  self->state.wiring = std::move(wiring);
  // A crash (an escaped exception, e.g. from an embedder's callback) ends the
  // actor with an error; its supervisor restarts it from the journal.
  self->set_exception_handler([=](std::exception_ptr& eptr) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("run {}: crashed: {}", self->state.spec.run_id, what);
    return caf::make_error(caf::sec::runtime_error,
                           "run " + self->state.spec.run_id + " crashed: " + what);
  });
  self->send(self, start_atom::value);
  return {
    [=](start_atom) {
      auto& s = self->state;
      if (!s.spec.resumed) {
        // A new run decides by this build's rules; a resumed one keeps those
        // its run_start recorded.
        s.spec.start.checkpoints = per_turn_checkpoints;
        emit(self, s.spec.start);
      } else
        resume(self);
      s.started = true;
      // Children journaled before a restart are found again (or their
      // journaled end is read back) by the supervisor.
      for (auto& d : s.st.children)
        attach_child(self, d);
      // A cancel can arrive before `start`: CAF runs this behavior function,
      // which queues `start`, only at the actor's first activation, so a
      // cancel sent right after the spawn (by an owner, or by the supervisor
      // relaunching a run canceled while it was down) is first in the
      // mailbox. Journaling it then would put it before run_start, or into a
      // state the read-back run replaces; it is taken here instead.
      if (s.cancel_pending && s.st.phase != run_phase::finished && !s.st.cancel_requested) {
        emit(self, error_event{error_kind::canceled, "canceled by request", ""});
        cancel_children(self);
      }
      drive(self);
    },
    [=](retry_atom, tool_request& req) { send_tool_request(self, std::move(req)); },
    [=](refused_atom, const caf::error& err) { abort_run(self, err); },
    [=](cancel_atom) {
      auto& s = self->state;
      if (!s.started) {
        s.cancel_pending = true;
        return;
      }
      if (s.stopped || s.st.phase == run_phase::finished || s.st.cancel_requested)
        return;
      // A run waiting for a person stops at once; one waiting for a model or
      // a tool stops when the reply arrives (it is journaled first).
      bool idle = s.st.phase == run_phase::between_turns
                  || std::any_of(s.st.calls.begin(), s.st.calls.end(), [](auto& c) {
                       return c.status == call_slot::state::awaiting_approval;
                     });
      emit(self, error_event{error_kind::canceled, "canceled by request", ""});
      cancel_children(self);
      if (idle)
        drive(self);
      else if (s.st.phase == run_phase::awaiting_reply)
        // Aborts the transfer. Anonymous: a route that does not know the
        // message (an embedder's) must not answer the run with an error.
        caf::anon_send(s.wiring.route, cancel_atom::value, s.spec.run_id);
    },
  };
}

} // namespace

int64_t system_clock_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
    .count();
}

run_spec spec_from_journal(rebuilt_run run) {
  run_spec spec;
  spec.run_id = run.start.run_id;
  spec.parent_run_id = run.start.parent_run_id;
  spec.root_run_id = run.start.root_run_id;
  spec.start = std::get<run_start>(run.start.body);
  spec.resumed = std::make_shared<rebuilt_run>(std::move(run));
  return spec;
}

caf::actor spawn_run(caf::actor_system& sys, run_spec spec, run_wiring wiring) {
  if (!wiring.clock)
    wiring.clock = system_clock_us;
  return sys.spawn(run_behavior, std::move(spec), std::move(wiring));
}

} // namespace troupe
