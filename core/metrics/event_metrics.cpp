#include "core/metrics/event_metrics.hpp"

#include <type_traits>

namespace troupe::metrics {

namespace {

constexpr size_t n_families = 13;

std::vector<family> make_families(size_t cap) {
  using t = metric_type;
  std::vector<family> f;
  f.reserve(n_families);
  f.emplace_back("troupe_runs_started_total", "Runs started (run_start journaled).",
                 t::counter, std::vector<std::string>{"tenant"}, std::vector<double>{}, cap);
  f.emplace_back("troupe_runs_finished_total", "Runs ended (completion journaled), by status.",
                 t::counter, std::vector<std::string>{"tenant", "status"}, std::vector<double>{},
                 cap);
  f.emplace_back("troupe_turns_total", "Turns started.", t::counter,
                 std::vector<std::string>{"tenant"}, std::vector<double>{}, cap);
  f.emplace_back("troupe_tool_calls_total", "Tool calls vetted by policy, by the decision.",
                 t::counter, std::vector<std::string>{"tool", "decision"},
                 std::vector<double>{}, cap);
  f.emplace_back("troupe_denials_total",
                 "Tool calls refused by policy or by an approver.", t::counter,
                 std::vector<std::string>{"tenant", "tool"}, std::vector<double>{}, cap);
  f.emplace_back("troupe_approvals_decided_total",
                 "Approval requests decided: approved, denied, or timeout.", t::counter,
                 std::vector<std::string>{"decision"}, std::vector<double>{}, cap);
  f.emplace_back("troupe_parse_failures_total",
                 "Tool calls whose arguments did not parse (repair turns).", t::counter,
                 std::vector<std::string>{"tenant"}, std::vector<double>{}, cap);
  f.emplace_back("troupe_model_requests_total",
                 "Attempts at model requests by the chosen endpoint (none: no candidate) "
                 "and how each ended (answered, a failure name, lost_hedge, canceled, "
                 "unavailable).",
                 t::counter, std::vector<std::string>{"endpoint", "outcome"},
                 std::vector<double>{}, cap);
  f.emplace_back("troupe_model_latency_seconds", "Latency of routed model replies.",
                 t::histogram, std::vector<std::string>{"endpoint"}, latency_bounds_s(), cap);
  f.emplace_back("troupe_model_first_token_seconds",
                 "Time to the first token of streamed model replies.", t::histogram,
                 std::vector<std::string>{"endpoint"}, latency_bounds_s(), cap);
  f.emplace_back("troupe_model_input_tokens_total", "Input tokens of model replies.",
                 t::counter, std::vector<std::string>{"tenant", "endpoint"},
                 std::vector<double>{}, cap);
  f.emplace_back("troupe_model_output_tokens_total", "Output tokens of model replies.",
                 t::counter, std::vector<std::string>{"tenant", "endpoint"},
                 std::vector<double>{}, cap);
  f.emplace_back("troupe_model_cost_usd_total",
                 "Spend of model replies, from their endpoints' prices.", t::counter,
                 std::vector<std::string>{"tenant", "endpoint"}, std::vector<double>{}, cap);
  return f;
}

} // namespace

event_metrics::event_metrics(size_t max_series)
  : families_(make_families(max_series)), runs_started_(families_[0]),
    runs_finished_(families_[1]), turns_(families_[2]), tool_calls_(families_[3]),
    denials_(families_[4]), approvals_(families_[5]), parse_failures_(families_[6]),
    model_requests_(families_[7]), latency_(families_[8]), first_token_(families_[9]),
    input_tokens_(families_[10]), output_tokens_(families_[11]), cost_(families_[12]) {}

std::string event_metrics::tool_of(const std::string& run_id, const std::string& call_id) const {
  auto r = calls_.find(run_id);
  if (r == calls_.end())
    return "unknown";
  auto c = r->second.find(call_id);
  return c == r->second.end() ? "unknown" : c->second;
}

void event_metrics::apply(const event& e, const std::string& tenant_in) {
  const std::string& tenant = tenant_in.empty() ? std::string("unknown") : tenant_in;
  std::visit(
    [&](const auto& b) {
      using T = std::decay_t<decltype(b)>;
      if constexpr (std::is_same_v<T, run_start>) {
        runs_started_.inc({tenant});
      } else if constexpr (std::is_same_v<T, completion>) {
        runs_finished_.inc({tenant, std::string(to_string(b.status))});
        calls_.erase(e.run_id);
      } else if constexpr (std::is_same_v<T, turn_start>) {
        turns_.inc({tenant});
      } else if constexpr (std::is_same_v<T, model_reply>) {
        auto& calls = calls_[e.run_id];
        calls.clear();
        for (auto& c : b.tool_calls)
          calls[c.call_id] = c.name;
        auto endpoint = b.endpoint.empty() ? std::string("script") : b.endpoint;
        input_tokens_.inc({tenant, endpoint}, static_cast<double>(b.tokens.input));
        output_tokens_.inc({tenant, endpoint}, static_cast<double>(b.tokens.output));
        cost_.inc({tenant, endpoint}, static_cast<double>(b.cost_micro_usd) / 1e6);
        if (!b.endpoint.empty() && b.failure.empty()) {
          latency_.observe({endpoint}, static_cast<double>(b.latency_us) / 1e6);
          if (b.first_token_us > 0)
            first_token_.observe({endpoint}, static_cast<double>(b.first_token_us) / 1e6);
        }
      } else if constexpr (std::is_same_v<T, route_attempt>) {
        std::string endpoint = "none";
        if (b.chosen >= 0 && static_cast<size_t>(b.chosen) < b.candidates.size())
          endpoint = b.candidates[static_cast<size_t>(b.chosen)].endpoint;
        model_requests_.inc({endpoint, b.outcome.empty() ? std::string("unknown") : b.outcome});
      } else if constexpr (std::is_same_v<T, policy_decision>) {
        auto tool = tool_of(e.run_id, b.call_id);
        tool_calls_.inc({tool, std::string(to_string(b.decision))});
        if (b.decision == decision_kind::deny)
          denials_.inc({tenant, tool});
      } else if constexpr (std::is_same_v<T, approval_decision>) {
        approvals_.inc({b.by == "timeout" ? "timeout" : b.approved ? "approved" : "denied"});
        if (!b.approved)
          denials_.inc({tenant, tool_of(e.run_id, b.call_id)});
      } else if constexpr (std::is_same_v<T, parse_failure>) {
        parse_failures_.inc({tenant});
      }
    },
    e.body);
}

std::vector<const family*> event_metrics::families() const {
  std::vector<const family*> out;
  for (auto& f : families_)
    out.push_back(&f);
  return out;
}

const family* event_metrics::find(const std::string& name) const {
  for (auto& f : families_)
    if (f.name() == name)
      return &f;
  return nullptr;
}

void run_tenants::remember(const std::string& run_id, const std::string& tenant) {
  if (by_run_.count(run_id) != 0)
    return;
  while (by_run_.size() >= capacity_ && !by_age_.empty()) {
    by_run_.erase(by_age_.begin()->second);
    by_age_.erase(by_age_.begin());
  }
  auto age = next_++;
  by_run_.emplace(run_id, std::make_pair(age, tenant));
  by_age_.emplace(age, run_id);
}

void run_tenants::note(const event& e) {
  if (auto* s = std::get_if<run_start>(&e.body))
    remember(e.run_id, s->tenant);
}

void run_tenants::done(const event& e) {
  if (e.kind() != event_kind::completion)
    return;
  auto i = by_run_.find(e.run_id);
  if (i == by_run_.end())
    return;
  by_age_.erase(i->second.first);
  by_run_.erase(i);
}

std::optional<std::string> run_tenants::find(const std::string& run_id) const {
  auto i = by_run_.find(run_id);
  if (i == by_run_.end())
    return std::nullopt;
  return i->second.second;
}

} // namespace troupe::metrics
