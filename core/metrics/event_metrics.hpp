#pragma once
// What the journal tells about a service, as metrics: a fold over committed
// events, fed by `troupe serve` from its live event tail (serve/event_hub.hpp
// sees every committed event once). Pure: no clock, no I/O; the caller says
// each event's tenant (`run_tenants` remembers it from run_start; a run
// that started before the process did is looked up by the caller).
//
// Metric                                 type       labels            from
// troupe_runs_started_total              counter    tenant            run_start
// troupe_runs_finished_total             counter    tenant, status    completion
// troupe_turns_total                     counter    tenant            turn_start
// troupe_tool_calls_total                counter    tool, decision    policy_decision
// troupe_denials_total                   counter    tenant, tool      policy deny, approver deny
// troupe_approvals_decided_total         counter    decision          approval_decision
// troupe_parse_failures_total            counter    tenant            parse_failure
// troupe_model_requests_total            counter    endpoint, outcome route_attempt
// troupe_model_latency_seconds           histogram  endpoint          model_reply (routed)
// troupe_model_first_token_seconds       histogram  endpoint          model_reply (streamed)
// troupe_model_input_tokens_total        counter    tenant, endpoint  model_reply
// troupe_model_output_tokens_total       counter    tenant, endpoint  model_reply
// troupe_model_cost_usd_total            counter    tenant, endpoint  model_reply
//
// Labels are bounded by construction (tenants, endpoints, tools, fixed
// vocabularies; never a run or call id) and each family caps its series
// (core/metrics/family.hpp). A scripted model's replies have no endpoint:
// their tokens count under endpoint="script" and they have no latency.
// `approvals_decided_total`'s decision is approved, denied or timeout.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics/family.hpp"
#include "schemas/event.hpp"

namespace troupe::metrics {

class event_metrics {
public:
  explicit event_metrics(size_t max_series = 1000);

  /// Folds one committed event of a run of `tenant` (empty: "unknown").
  void apply(const event& e, const std::string& tenant);

  /// Every family, in a fixed order.
  [[nodiscard]] std::vector<const family*> families() const;
  /// The family called `name`, or nullptr.
  [[nodiscard]] const family* find(const std::string& name) const;

private:
  std::string tool_of(const std::string& run_id, const std::string& call_id) const;

  std::vector<family> families_;
  family& runs_started_;
  family& runs_finished_;
  family& turns_;
  family& tool_calls_;
  family& denials_;
  family& approvals_;
  family& parse_failures_;
  family& model_requests_;
  family& latency_;
  family& first_token_;
  family& input_tokens_;
  family& output_tokens_;
  family& cost_;
  /// The tool of each call of a run's current reply (its policy decision and
  /// approval name only the call id); dropped at the run's completion.
  std::map<std::string, std::map<std::string, std::string>> calls_;
};

/// The tenant of each run in flight, from its run_start; forgotten at its
/// completion. Bounded: beyond `capacity` runs the oldest entries go (their
/// later events are looked up again by the caller).
class run_tenants {
public:
  explicit run_tenants(size_t capacity = 100000) : capacity_(capacity) {}
  /// Call with every event before folding it.
  void note(const event& e);
  /// Call after folding an event: forgets a completed run.
  void done(const event& e);
  [[nodiscard]] std::optional<std::string> find(const std::string& run_id) const;
  void remember(const std::string& run_id, const std::string& tenant);
  [[nodiscard]] size_t size() const { return by_run_.size(); }

private:
  size_t capacity_;
  uint64_t next_ = 0;
  std::map<std::string, std::pair<uint64_t, std::string>> by_run_; ///< run -> (age, tenant)
  std::map<uint64_t, std::string> by_age_;
};

} // namespace troupe::metrics
