#pragma once
// SOP teams, decided purely. A team run has no model of its own: it walks its
// phases in order (run_start.phases), and for each one starts a child run of
// the phase's role with the phase's gate as that run's checks
// (core/verification.hpp: a failed check is a fix turn for the role, with the
// report), then decides the gate from how the role's run ended, and from an
// approver when the phase names one: a role (a review run that answers
// `{"approved": bool, "reason": string}`) or a person (the approvals of
// docs/policy.md). A rejection sends the phase round again with the reason as
// feedback, up to the phase's max_attempts; a role run that did not pass its
// checks fails the gate outright (it had its fix turns). A failed gate ends
// the team by the completion contract: `limit_reached`, reason `gate_failed`,
// with a report of every phase. A phase may be skipped only by its declared
// rule (`skip_if`), and the gate_pass then records `review_skipped_reason`.
//
// The phases' states are folded from the journal (phase_start,
// delegation_result, approval_decision, gate_pass, gate_fail), so a team
// resumed after a crash never redoes a phase whose gate passed.
//
// Child ids and budgets are the delegation's (core/delegation.hpp); a phase's
// role run gets what the team has left.

#include "core/run_decisions.hpp"
#include "core/run_state.hpp"

namespace troupe {

/// What the team run journals and does next (decide_next for team runs).
[[nodiscard]] decision decide_team(const run_state& st, const decision_inputs& in);

/// A report of every phase: state, attempts, roles, artifacts, why it failed.
[[nodiscard]] std::string team_report(const run_state& st);

// The fold of the team's events into run_state::progress (run_state.cpp).
void fold_phase_start(run_state& st, const phase_start& x);
void fold_gate(run_state& st, const gate_outcome& x, bool passed);
void fold_team_result(run_state& st, const delegation_result& x);
void fold_team_approval(run_state& st, const approval_decision& x);

} // namespace troupe
