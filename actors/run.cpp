#include "actors/run.hpp"

#include <algorithm>
#include <map>
#include <random>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "core/envelope.hpp"
#include "core/runtime_errc.hpp"
#include "core/run_snapshot.hpp"
#include "core/sandbox_spec.hpp"
#include "core/run_state.hpp"
#include "core/saturating_time.hpp"
#include "core/tool_budget.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

struct run_actor_state {
  static inline const char* name = "troupe.run";
  run_spec spec;
  run_wiring wiring;
  run_state st;
  bool stopped = false;
  /// Calls whose intent was journaled before a crash, without a result.
  std::vector<std::string> recovered_calls;
  /// Backoff jitter; each draw is journaled in a `retry` event.
  std::mt19937_64 rng{std::random_device{}()};
  std::map<std::string, uint32_t> attempts; ///< per call id
  /// Verdicts of this turn's calls, kept from vetting to execution (after a
  /// restart they are recomputed: the decision is pure).
  std::map<std::string, policy_verdict> verdicts;
};

using run_actor = caf::stateful_actor<run_actor_state>;

void drive(run_actor* self);

// The tools the current turn offered (for re-sending its model request).
std::vector<std::string> next_step_tools(const run_state& st) {
  if (st.mode == turn_mode::recovery)
    return {std::string(complete_tool)};
  return st.tools;
}

run_result result_of(const run_state& st) {
  run_result r;
  r.run_id = st.run_id;
  if (st.outcome) {
    r.status = st.outcome->status;
    r.answer = st.outcome->answer;
    r.summary = st.outcome->summary;
    r.reason = st.outcome->reason;
  }
  r.totals = st.totals;
  return r;
}

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

// Folds the event into the state and hands it to the journal. Accepted
// appends keep the run going at once; `then` runs after a durable append's
// COMMIT.
void emit(run_actor* self, event_body body,
          std::function<void()> then = nullptr) {
  auto& s = self->state;
  auto ev = make_event(self, std::move(body));
  apply(s.st, ev);
  if (s.wiring.on_event)
    s.wiring.on_event(ev);
  auto bytes = encode(ev);
  auto on_error = [=](caf::error& err) { abort_run(self, err); };
  if (then)
    self->request(s.wiring.journal, caf::infinite, append_atom::value,
                  durable_atom::value, std::move(bytes))
      .then([=](uint32_t) { then(); }, on_error);
  else
    self->request(s.wiring.journal, caf::infinite, append_atom::value,
                  std::move(bytes))
      .then([](uint32_t) {}, on_error);
}

void emit_checkpoint(run_actor* self, std::function<void()> then = nullptr) {
  auto& st = self->state.st;
  emit(self, checkpoint{st.turn, st.totals, snapshot_of(st)}, std::move(then));
}

std::vector<tool_spec> specs_for(const tool_registry& reg,
                                 const std::vector<std::string>& names) {
  std::vector<tool_spec> out;
  for (auto& n : names)
    if (auto* def = reg.find(n))
      out.push_back({def->name, def->description, def->parameters.dump()});
  return out;
}

// Sends the model request of the current turn. On resume after a crash
// between model_request and model_reply the request is sent again without
// journaling it twice; deterministic providers answer by position.
void send_model_request(run_actor* self, const std::vector<std::string>& tools) {
  auto& s = self->state;
  model_call call;
  call.run_id = s.spec.run_id;
  call.agent = s.st.agent;
  call.model = s.st.model;
  call.turn = s.st.turn;
  call.request_index = s.st.totals.model_calls - 1;
  call.messages = s.st.conversation;
  call.tools = specs_for(*s.wiring.registry, tools);
  auto t0 = s.wiring.clock();
  auto turn = s.st.turn;
  self->request(s.wiring.route, s.wiring.model_timeout, complete_atom::value,
                std::move(call))
    .then(
      [=](model_response& r) {
        auto latency = static_cast<uint64_t>(self->state.wiring.clock() - t0);
        emit(self, model_reply{turn, std::move(r.text), std::move(r.tool_calls),
                               r.tokens, std::move(r.failure), latency});
        drive(self);
      },
      [=](caf::error& err) {
        auto failure = err == caf::sec::request_timeout ? "timeout"
                                                        : "server_error";
        emit(self, model_reply{turn, "", {}, {}, failure, 0});
        drive(self);
      });
}

void ask_model(run_actor* self, const ask_model_step& step) {
  auto& s = self->state;
  emit(self, model_request{step.turn, s.st.model, step.tools,
                           static_cast<uint32_t>(s.st.conversation.size())});
  send_model_request(self, step.tools);
}

// Returns true when the step finished synchronously and driving continues.
// Asks the approvals actor; its answer (or the deadline passing) becomes the
// approval_decision that lets the call run or refuses it.
void await_approval(run_actor* self, const approval_request& req) {
  auto& s = self->state;
  auto deny = [=](std::string by, std::string why) {
    if (self->state.st.phase == run_phase::finished)
      return;
    self->state.verdicts.erase(req.call_id);
    emit(self, approval_decision{req.call_id, false, std::move(by), std::move(why)});
    drive(self);
  };
  if (!s.wiring.approvals) {
    deny("troupe", "no approver is configured; `ask` fails closed");
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
    .then(
      [=](approval_decision& d) {
        if (self->state.st.phase == run_phase::finished)
          return; // canceled while it waited
        if (!d.approved)
          self->state.verdicts.erase(d.call_id);
        emit(self, std::move(d));
        drive(self);
      },
      [=](caf::error& err) {
        deny("timeout", "no decision before the deadline (" + render(err) + ")");
      });
}

bool vet_call(run_actor* self, const vet_call_step& step) {
  auto& s = self->state;
  auto call = s.st.calls[step.index].call;
  if (!step.refusal.empty()) {
    emit(self, error_event{"refused", step.refusal, call.call_id});
    return true;
  }
  auto args = prepare_call(*s.wiring.registry, call.name, call.args_json);
  if (!args) {
    emit(self, parse_failure{call.call_id, call.name, call.args_json,
                             render(args.error())});
    return true;
  }
  auto normalized = args->dump();
  if (!step.decided) {
    auto* def = s.wiring.registry->find(call.name);
    bool pure = def != nullptr && def->effect == tool_effect::pure;
    auto memo = scope_violation(call.name, pure, normalized);
    if (!memo.empty()) {
      emit(self, error_event{"out_of_scope", memo + " (call " + call.call_id + ")",
                             call.call_id});
      return true;
    }
    auto verdict = decide(*s.wiring.governance,
                          call_context{call.name, *args, s.st.agent, "", s.st.tenant});
    emit(self, policy_decision{call.call_id, std::string(to_string(verdict.decision)),
                               verdict.rule_id, verdict.policy_version, verdict.reason});
    if (verdict.decision == decision_kind::deny)
      return true;
    s.verdicts[call.call_id] = verdict;
    if (verdict.decision == decision_kind::ask) {
      auto deadline = add_us(s.wiring.clock(), ms_to_us(verdict.approval_timeout_ms));
      approval_request req{call.call_id, call.name, normalized, verdict.rule_id, deadline};
      emit(self, req);
      await_approval(self, req);
      return false;
    }
  }
  // Write-ahead: the intent is durable before the tool runs.
  emit(self, tool_call{call.call_id, call.name, normalized}, [=] { drive(self); });
  return false;
}

using retry_atom = caf::atom_constant<caf::atom("retry")>;

// Journals a failed result for `req` and goes on.
void fail_tool_call(run_actor* self, const tool_request& req, std::string text) {
  emit(self, tool_result{req.call_id, req.name, false, std::move(text)});
  emit_checkpoint(self, [=] { drive(self); });
}

// Runs the tool. A failure the tool calls retryable is tried again after an
// exponential backoff with jitter (the draw and the delay are journaled);
// anything else becomes the call's result. The wait never outlasts the run's
// deadline (tool_wait_for); a call the deadline leaves no time for is not
// started, and the worker skips one whose wait ended before it got to it.
void send_tool_request(run_actor* self, tool_request req) {
  auto& s = self->state;
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
  self->request(s.wiring.tools, w.wait, execute_atom::value, req, give_up_ns)
    .then(
      [=](tool_outcome& out) {
        auto& st = self->state;
        auto attempt = ++st.attempts[req.call_id];
        if (!out.ok && out.retryable && attempt < st.wiring.max_tool_attempts) {
          double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(st.rng);
          auto base = st.wiring.retry_base_delay.count() * (uint64_t{1} << (attempt - 1));
          auto delay_us = static_cast<uint64_t>(
            std::min<double>(static_cast<double>(base) * (0.5 + jitter),
                             static_cast<double>(st.wiring.retry_max_delay.count())));
          emit(self, retry{req.call_id, attempt, delay_us, jitter, out.output});
          self->delayed_send(self, std::chrono::microseconds(delay_us), retry_atom::value,
                             req);
          return;
        }
        // The result is durable before the run takes its next step.
        if (st.wiring.redactions && !st.wiring.redactions->empty())
          out.output = redact(out.output, *st.wiring.redactions);
        emit(self, tool_result{req.call_id, req.name, out.ok, std::move(out.output)});
        emit_checkpoint(self, [=] { drive(self); });
      },
      [=](caf::error& err) {
        fail_tool_call(self, req, err == caf::sec::request_timeout
                                    ? tool_timeout_text(req.name, w)
                                    : req.name + ": " + render(err));
      });
}

bool was_recovered(const run_actor_state& s, const std::string& call_id) {
  return std::find(s.recovered_calls.begin(), s.recovered_calls.end(), call_id)
         != s.recovered_calls.end();
}

bool execute_call(run_actor* self, const execute_call_step& step) {
  auto& s = self->state;
  auto call = s.st.calls[step.index].call;
  if (call.name == complete_tool) {
    emit(self, tool_result{call.call_id, call.name, true, "run completed"});
    emit_checkpoint(self);
    return true;
  }
  if (was_recovered(s, call.call_id)) {
    auto* def = s.wiring.registry->find(call.name);
    if (def == nullptr || def->effect == tool_effect::unsafe) {
      // The intent is durable, the result is not: the side effect may or may
      // not have happened, and running it again could repeat it.
      auto why = "the outcome of " + call.name + " call " + call.call_id
                 + " is unknown: the run stopped after its intent was "
                   "journaled and before its result; it was not run again "
                   "because the tool is not idempotent";
      emit(self, error_event{"uncertain", why, ""});
      emit(self, tool_result{call.call_id, call.name, false, why});
      emit_checkpoint(self, [=] { drive(self); });
      return false;
    }
  }
  // The grants of the rule that allowed the call (the decision is pure, so
  // asking again gives the journaled answer, also after a restart).
  auto cached = s.verdicts.find(call.call_id);
  auto verdict = cached != s.verdicts.end()
                   ? std::move(cached->second)
                   : decide(*s.wiring.governance,
                            call_context{call.name,
                                         nlohmann::json::parse(call.args_json, nullptr, false),
                                         s.st.agent, "", s.st.tenant});
  if (cached != s.verdicts.end())
    s.verdicts.erase(cached);
  tool_request req{s.spec.run_id, call.call_id, call.name, call.args_json,
                   s.spec.start.workspace, verdict.secrets, verdict.network,
                   verdict.unsandboxed};
  send_tool_request(self, std::move(req));
  return false;
}

void finish(run_actor* self, const finish_step& step) {
  emit(self, step.outcome, [=] {
    auto& s = self->state;
    if (s.stopped)
      return;
    s.stopped = true;
    if (s.wiring.on_done)
      s.wiring.on_done(result_of(s.st));
    self->quit();
  });
}

// Performs steps until one has to wait for a reply.
void drive(run_actor* self) {
  auto& s = self->state;
  while (!s.stopped && s.st.phase != run_phase::finished) {
    auto step = next_step(s.st);
    bool go_on = std::visit(
      [&](auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, start_turn_step>) {
          emit(self, turn_start{x.turn, x.mode});
          return true;
        } else if constexpr (std::is_same_v<T, ask_model_step>) {
          ask_model(self, x);
          return false;
        } else if constexpr (std::is_same_v<T, vet_call_step>) {
          return vet_call(self, x);
        } else if constexpr (std::is_same_v<T, execute_call_step>) {
          return execute_call(self, x);
        } else if constexpr (std::is_same_v<T, end_turn_step>) {
          emit(self, turn_end{x.turn});
          emit_checkpoint(self, [=] { drive(self); });
          return false;
        } else if constexpr (std::is_same_v<T, recover_step>) {
          emit(self, recovery{x.reason, x.detail});
          return true;
        } else if constexpr (std::is_same_v<T, finish_step>) {
          finish(self, x);
          return false;
        } else {
          return false;
        }
      },
      step);
    if (!go_on)
      return;
  }
}

// Continues a journaled run: fold its events, then take the next step as if
// the process had never stopped.
void resume(run_actor* self) {
  auto& s = self->state;
  auto history = std::move(s.spec.history);
  s.spec.history.clear();
  for (auto& ev : history)
    apply(s.st, ev);
  for (auto& slot : s.st.calls)
    if (slot.status == call_slot::state::in_flight)
      s.recovered_calls.push_back(slot.call.call_id);
  spdlog::info("run {}: resumed after {} events ({} calls without results)",
               s.spec.run_id, history.size(), s.recovered_calls.size());
  auto& last = history.back().body;
  if (std::holds_alternative<tool_result>(last)
      || std::holds_alternative<turn_end>(last)) {
    emit_checkpoint(self, [=] { drive(self); });
    return;
  }
  if (s.st.phase == run_phase::awaiting_reply) {
    auto step = next_step_tools(s.st);
    send_model_request(self, step);
    return;
  }
  // Pending approvals keep their original deadlines across restarts.
  for (auto& req : s.st.pending_approvals)
    await_approval(self, req);
  drive(self);
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
      if (self->state.spec.history.empty()) {
        emit(self, self->state.spec.start);
        drive(self);
      } else {
        resume(self);
      }
    },
    [=](retry_atom, tool_request& req) { send_tool_request(self, std::move(req)); },
    [=](cancel_atom) {
      auto& s = self->state;
      if (s.stopped || s.st.phase == run_phase::finished || s.st.cancel_requested)
        return;
      // A run waiting for a person stops at once; one waiting for a model or
      // a tool stops when the reply arrives (it is journaled first).
      bool idle = s.st.phase == run_phase::between_turns
                  || std::any_of(s.st.calls.begin(), s.st.calls.end(), [](auto& c) {
                       return c.status == call_slot::state::awaiting_approval;
                     });
      emit(self, error_event{"canceled", "canceled by request", ""});
      if (idle)
        drive(self);
    },
  };
}

} // namespace

int64_t system_clock_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
    .count();
}

caf::expected<run_spec> spec_from_history(std::vector<event> history) {
  if (history.empty() || !std::holds_alternative<run_start>(history.front().body))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "cannot resume: the run's journal does not begin "
                           "with run_start");
  run_spec spec;
  auto& first = history.front();
  spec.run_id = first.run_id;
  spec.parent_run_id = first.parent_run_id;
  spec.root_run_id = first.root_run_id;
  spec.start = std::get<run_start>(first.body);
  spec.history = std::move(history);
  return spec;
}

caf::actor spawn_run(caf::actor_system& sys, run_spec spec, run_wiring wiring) {
  if (!wiring.clock)
    wiring.clock = system_clock_us;
  return sys.spawn(run_behavior, std::move(spec), std::move(wiring));
}

} // namespace troupe
