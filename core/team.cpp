#include "core/team.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/delegation.hpp"
#include "core/event_summary.hpp"
#include "core/saturating_time.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

// Call ids of a phase's attempt: its role's run, an approving role's review,
// a person's approval.
std::string work_id(size_t phase, uint32_t attempt) {
  return "p" + std::to_string(phase) + ".a" + std::to_string(attempt);
}
std::string review_id(size_t phase, uint32_t attempt) {
  return work_id(phase, attempt) + ".review";
}
std::string approval_id(size_t phase, uint32_t attempt) {
  return work_id(phase, attempt) + ".approval";
}

// The phase and attempt a call id names, and what it is for.
struct call_of_phase {
  size_t phase = 0;
  uint32_t attempt = 0;
  std::string what; ///< "", "review" or "approval"
};

std::optional<call_of_phase> parse_call(const std::string& id) {
  unsigned long phase = 0;
  unsigned attempt = 0;
  int used = 0;
  if (std::sscanf(id.c_str(), "p%lu.a%u%n", &phase, &attempt, &used) != 2)
    return std::nullopt;
  auto rest = id.substr(static_cast<size_t>(used));
  if (!rest.empty() && rest != ".review" && rest != ".approval")
    return std::nullopt;
  return call_of_phase{phase, attempt, rest.empty() ? "" : rest.substr(1)};
}

phase_progress* progress_of(run_state& st, const std::string& call_id) {
  auto c = parse_call(call_id);
  if (!c || c->phase >= st.progress.size() || st.progress[c->phase].attempt != c->attempt)
    return nullptr;
  return &st.progress[c->phase];
}

decision journal_one(event_body body, run_effect effect = go_on{}) {
  decision d;
  d.journal.push_back(std::move(body));
  d.effect = std::move(effect);
  return d;
}

std::string artifacts_text(const std::vector<artifact>& xs) {
  std::string out;
  for (auto& a : xs)
    out += (out.empty() ? "" : ", ") + a.path + " (" + std::to_string(a.lines) + " lines, sha256 "
           + a.sha256.substr(0, 12) + ")";
  return out;
}

// Why phase `i` may be skipped by its rule, or empty.
std::string skip_reason(const run_state& st, size_t i) {
  auto& rule = st.phases[i].skip_if;
  if (!rule || i == 0)
    return {};
  auto& before = st.progress[i - 1];
  if (before.state != phase_progress::status::succeeded || !before.work)
    return {};
  auto& work = *before.work;
  if (rule->first_try && (before.attempt != 1 || work.verification_attempts > 1))
    return {};
  uint64_t lines = 0;
  for (auto& a : work.artifacts)
    lines += a.lines;
  if (work.artifacts.size() > rule->max_files || lines > rule->max_lines)
    return {};
  return "phase '" + st.phases[i - 1].name + "' passed its checks on the first attempt and "
         "changed " + std::to_string(work.artifacts.size()) + " files, " + std::to_string(lines)
         + " lines (the rule allows " + std::to_string(rule->max_files) + " files, "
         + std::to_string(rule->max_lines) + " lines)";
}

// A child run for phase `i`: its role's work, or an approving role's review.
decision start_role(const run_state& st, const decision_inputs& in, size_t i, uint32_t attempt,
                    bool review, std::vector<event_body> before) {
  auto& ph = st.phases[i];
  auto& p = st.progress[i];
  std::string task = ph.task;
  std::string agent = ph.role;
  json args;
  bool approves = review || ph.approver == ph.role;
  if (review) {
    agent = ph.approver;
    task = "Review the work of phase '" + ph.name + "' (role " + ph.role + "): "
           + (p.work ? p.work->answer : std::string{}) + "\nArtifacts: "
           + (p.work ? artifacts_text(p.work->artifacts) : std::string{});
  } else if (!p.feedback.empty()) {
    task += "\n\nThe previous attempt was not accepted: " + p.feedback;
  }
  if (approves) {
    task += "\nAnswer with JSON {\"approved\": true|false, \"reason\": \"...\"}.";
    args["output_schema"] = json{{"type", "object"},
                                 {"required", {"approved", "reason"}},
                                 {"properties",
                                  {{"approved", {{"type", "boolean"}}},
                                   {"reason", {{"type", "string"}}}}}};
  }
  args["agent"] = agent;
  args["task"] = task;
  auto id = review ? review_id(i, attempt) : work_id(i, attempt);
  std::string why;
  auto child = plan_delegation(st, tool_call_ref{id, std::string(delegate_tool), args.dump()},
                               in.now_us, &why);
  decision d;
  d.journal = std::move(before);
  if (!child) {
    d.journal.push_back(gate_fail{{static_cast<uint32_t>(i), ph.name, attempt,
                                   "no budget left for the " + agent + " run: " + why, false, ""}});
    return d;
  }
  if (!review) {
    for (auto& c : ph.gate)
      if (c.kind != "approved_by")
        child->checks.push_back(c);
    child->max_fix_attempts = ph.max_attempts;
  }
  child->role = agent;
  child->phase = ph.name;
  d.journal.push_back(*child);
  d.effect = start_child{*child};
  return d;
}

// The gate of a running phase whose role run ended.
decision judge(const run_state& st, const decision_inputs& in, size_t i) {
  auto& ph = st.phases[i];
  auto& p = st.progress[i];
  auto& work = *p.work;
  auto index = static_cast<uint32_t>(i);
  if (work.status != run_status::completed)
    return journal_one(gate_fail{{index, ph.name, p.attempt,
                                  "the " + ph.role + " run " + work.child_run_id + " ended "
                                    + std::string(to_string(work.status))
                                    + (work.reason.empty() ? "" : " (" + work.reason + ")") + ": "
                                    + one_line(work.summary, 600),
                                  false, ""}});
  auto passed = [&](std::string report) {
    return journal_one(gate_pass{{index, ph.name, p.attempt, std::move(report), false, ""}});
  };
  auto rejected = [&](std::string report) {
    return journal_one(gate_fail{{index, ph.name, p.attempt, std::move(report), false, ""}});
  };
  auto report = "checks passed on attempt " + std::to_string(work.verification_attempts)
                + (work.artifacts.empty() ? "" : "; artifacts: " + artifacts_text(work.artifacts));
  if (ph.approver.empty())
    return passed(report);
  if (ph.approver == "person") {
    if (!p.approval) {
      approval_request req{approval_id(i, p.attempt), "gate",
                           json{{"phase", ph.name}, {"role", ph.role}, {"answer", work.answer},
                                {"artifacts", artifacts_text(work.artifacts)}}
                             .dump(),
                           "team:" + st.team,
                           add_us(in.now_us, ms_to_us(in.governance.approval_timeout_ms))};
      return journal_one(req, await_approval{req});
    }
    if (p.approval->approved)
      return passed(report + "; approved by " + p.approval->by);
    return rejected("not approved by " + p.approval->by + ": " + p.approval->reason);
  }
  // A role that approves its own phase (a review) decides with its answer;
  // another role is asked in a review run of its own.
  bool self_review = ph.approver == ph.role;
  if (!self_review && !p.review)
    return start_role(st, in, i, p.attempt, true, {});
  auto& verdict = self_review ? work : *p.review;
  auto answer = json::parse(verdict.answer, nullptr, false);
  bool approved = verdict.status == run_status::completed && answer.is_object()
                  && answer.value("approved", false);
  auto reason = answer.is_object() ? answer.value("reason", std::string{}) : verdict.summary;
  if (approved)
    return passed(report + "; approved by " + ph.approver + ": " + reason);
  return rejected("not approved by " + ph.approver + ": " + reason);
}

completion team_end(const run_state& st, run_status status, std::string reason) {
  completion c;
  c.status = status;
  c.summary = team_report(st);
  c.answer = status == run_status::completed ? c.summary : std::string{};
  c.reason = std::move(reason);
  c.totals = st.totals;
  return c;
}

} // namespace

decision decide_team(const run_state& st, const decision_inputs& in) {
  if (st.phase == run_phase::finished)
    return decision{{}, durability::accepted, idle{}};
  auto finish = [](completion c) { return decision{{std::move(c)}, durability::durable, stop{}}; };
  if (!st.children.empty())
    return decision{{}, durability::accepted, idle{}};
  if (st.cancel_requested)
    return finish(team_end(st, run_status::canceled, ""));
  if (!st.pending_approvals.empty())
    return decision{{}, durability::accepted, await_approval{st.pending_approvals.front()}};
  for (size_t i = 0; i < st.phases.size(); ++i) {
    auto& ph = st.phases[i];
    auto& p = st.progress[i];
    switch (p.state) {
      case phase_progress::status::succeeded:
        continue;
      case phase_progress::status::failed:
        return finish(team_end(st, run_status::limit_reached, "gate_failed"));
      case phase_progress::status::pending: {
        if (p.attempt == 0) {
          auto why = skip_reason(st, i);
          if (!why.empty())
            return journal_one(gate_pass{{static_cast<uint32_t>(i), ph.name, 0,
                                          "skipped by its rule", true, why}});
        }
        auto attempt = p.attempt + 1;
        return start_role(st, in, i, attempt, false,
                          {phase_start{static_cast<uint32_t>(i), ph.name, ph.role, attempt}});
      }
      case phase_progress::status::running:
        if (!p.work) // its child ended without a result journaled: found again on resume
          return decision{{}, durability::accepted, idle{}};
        return judge(st, in, i);
    }
  }
  return finish(team_end(st, run_status::completed, ""));
}

std::string team_report(const run_state& st) {
  std::string out = "team " + st.team + ":";
  for (size_t i = 0; i < st.phases.size(); ++i) {
    auto& ph = st.phases[i];
    auto& p = st.progress[i];
    const char* state = p.state == phase_progress::status::succeeded ? "passed"
                        : p.state == phase_progress::status::failed  ? "failed"
                        : p.state == phase_progress::status::running ? "running"
                                                                     : "not started";
    out += "\n- " + ph.name + " (" + ph.role + "): " + state;
    if (p.attempt > 0)
      out += ", attempt " + std::to_string(p.attempt) + " of " + std::to_string(ph.max_attempts);
    if (p.work && p.work->verification_attempts > 1)
      out += " (its checks ran " + std::to_string(p.work->verification_attempts) + " times)";
    if (p.work && !p.work->artifacts.empty())
      out += "; artifacts: " + artifacts_text(p.work->artifacts);
    if (!p.feedback.empty())
      out += "; " + one_line(p.feedback, 400);
  }
  return out;
}

void fold_phase_start(run_state& st, const phase_start& x) {
  if (x.phase >= st.progress.size())
    return;
  auto& p = st.progress[x.phase];
  p.state = phase_progress::status::running;
  p.attempt = x.attempt;
  p.work.reset();
  p.review.reset();
  p.approval.reset();
}

void fold_gate(run_state& st, const gate_outcome& x, bool passed) {
  if (x.phase >= st.progress.size())
    return;
  auto& p = st.progress[x.phase];
  if (passed) {
    p.state = phase_progress::status::succeeded;
    if (x.skipped)
      p.feedback = "skipped: " + x.review_skipped_reason;
    return;
  }
  p.feedback = x.report;
  // A role run that did not pass its checks had its fix turns: the gate
  // fails for good. A rejected approval sends the phase round again.
  bool work_failed = !p.work || p.work->status != run_status::completed;
  bool attempts_left = p.attempt < st.phases[x.phase].max_attempts;
  p.state = work_failed || !attempts_left ? phase_progress::status::failed
                                          : phase_progress::status::pending;
}

void fold_team_result(run_state& st, const delegation_result& x) {
  auto* p = progress_of(st, x.call_id);
  if (p == nullptr)
    return;
  if (x.call_id.size() > 7 && x.call_id.compare(x.call_id.size() - 7, 7, ".review") == 0)
    p->review = x;
  else
    p->work = x;
}

void fold_team_approval(run_state& st, const approval_decision& x) {
  if (auto* p = progress_of(st, x.call_id))
    p->approval = x;
}

} // namespace troupe
