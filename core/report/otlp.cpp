#include "core/report/otlp.hpp"

#include <cstdio>
#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace troupe::report {

using nlohmann::json;

namespace {

constexpr int span_kind_internal = 1;
constexpr int status_error = 2;

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64's finalizer: FNV-1a alone leaves keys that differ in their
  // last byte (call ids c1, c2) with ids that differ in a few bits.
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::string hex64(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

json str_attr(const std::string& key, const std::string& v) {
  return {{"key", key}, {"value", {{"stringValue", v}}}};
}
json int_attr(const std::string& key, int64_t v) {
  return {{"key", key}, {"value", {{"intValue", std::to_string(v)}}}};
}
json bool_attr(const std::string& key, bool v) {
  return {{"key", key}, {"value", {{"boolValue", v}}}};
}

std::string excerpt(const std::string& s, size_t max = 200) {
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

struct span {
  std::string key;
  std::string parent_key;
  std::string fallback_parent_key; ///< when parent_key is not exported
  std::string name;
  int64_t start_us = 0;
  std::optional<int64_t> end_us;
  json attributes = json::array();
  std::optional<std::string> error; ///< the message of an ERROR status
};

// The spans of one run, built event by event.
class run_spans {
public:
  run_spans(std::vector<span>& out, const std::string& run_id)
    : out_(out), run_id_(run_id), first_(out.size()) {}

  void add(const event& ev) {
    last_ts_ = ev.ts_us;
    std::visit([&](const auto& body) { on(ev, body); }, ev.body);
  }

  // Ends what is still open at the run's last event.
  void finish() {
    for (size_t i = first_; i < out_.size(); ++i)
      if (!out_[i].end_us)
        out_[i].end_us = last_ts_;
  }

private:
  span& at(size_t i) { return out_[i]; }

  size_t open(std::string key, std::string parent, std::string name, int64_t ts) {
    span s;
    s.key = std::move(key);
    s.parent_key = std::move(parent);
    s.name = std::move(name);
    s.start_us = ts;
    out_.push_back(std::move(s));
    return out_.size() - 1;
  }

  std::string parent_of_calls() const {
    return turn_ ? out_[*turn_].key : "run:" + run_id_;
  }

  void end(std::optional<size_t>& i, int64_t ts) {
    if (i && !at(*i).end_us)
      at(*i).end_us = ts;
    i.reset();
  }

  size_t tool(const std::string& call_id, int64_t ts) {
    auto it = tools_.find(call_id);
    if (it != tools_.end())
      return it->second;
    auto name = names_.count(call_id) ? names_[call_id] : std::string{"call"};
    auto i = open("tool:" + run_id_ + ":" + call_id, parent_of_calls(), "tool " + name, ts);
    at(i).attributes.push_back(str_attr("troupe.tool.name", name));
    at(i).attributes.push_back(str_attr("troupe.call_id", call_id));
    tools_[call_id] = i;
    return i;
  }

  void fail_tool(const std::string& call_id, int64_t ts, const std::string& why) {
    auto i = tool(call_id, ts);
    if (!at(i).end_us)
      at(i).end_us = ts;
    if (!at(i).error)
      at(i).error = why;
  }

  void on(const event& ev, const run_start& x) {
    run_ = open("run:" + run_id_, "", "run " + x.agent, ev.ts_us);
    auto& a = at(run_).attributes;
    a.push_back(str_attr("troupe.run_id", run_id_));
    a.push_back(str_attr("troupe.agent", x.agent));
    a.push_back(str_attr("troupe.tenant", x.tenant));
    a.push_back(str_attr("troupe.model", x.model));
    a.push_back(int_attr("troupe.depth", x.depth));
    if (!x.parent_call_id.empty()) {
      // Under the parent's delegate call (to_otlp checks that it is exported).
      at(run_).parent_key = "tool:" + ev.parent_run_id + ":" + x.parent_call_id;
      at(run_).fallback_parent_key = "run:" + ev.parent_run_id;
      a.push_back(str_attr("troupe.parent_run_id", ev.parent_run_id));
    }
    if (!x.role.empty())
      a.push_back(str_attr("troupe.role", x.role));
    if (!x.phase.empty())
      a.push_back(str_attr("troupe.phase", x.phase));
    if (!x.team.empty())
      a.push_back(str_attr("troupe.team", x.team));
  }
  void on(const event& ev, const turn_start& x) {
    end(model_, ev.ts_us);
    end(turn_, ev.ts_us);
    turn_ = open("turn:" + run_id_ + ":" + std::to_string(ev.seq), "run:" + run_id_,
                 "turn " + std::to_string(x.turn), ev.ts_us);
    at(*turn_).attributes.push_back(int_attr("troupe.turn", x.turn));
    at(*turn_).attributes.push_back(str_attr("troupe.turn.mode", std::string{to_string(x.mode)}));
  }
  void on(const event& ev, const model_request& x) {
    model_ = open("model:" + run_id_ + ":" + std::to_string(ev.seq), parent_of_calls(),
                  "model " + x.route, ev.ts_us);
    at(*model_).attributes.push_back(str_attr("troupe.route", x.route));
    at(*model_).attributes.push_back(int_attr("troupe.messages", x.messages));
    attempts_ = 0;
  }
  void on(const event&, const route_attempt& x) {
    attempts_ = std::max(attempts_, x.attempt);
  }
  void on(const event& ev, const model_reply& x) {
    if (!model_)
      model_ = open("model:" + run_id_ + ":" + std::to_string(ev.seq), parent_of_calls(), "model",
                    ev.ts_us);
    auto& s = at(*model_);
    s.end_us = ev.ts_us;
    s.attributes.push_back(int_attr("gen_ai.usage.input_tokens", static_cast<int64_t>(x.tokens.input)));
    s.attributes.push_back(int_attr("gen_ai.usage.output_tokens", static_cast<int64_t>(x.tokens.output)));
    if (!x.model.empty())
      s.attributes.push_back(str_attr("gen_ai.response.model", x.model));
    if (!x.endpoint.empty())
      s.attributes.push_back(str_attr("troupe.endpoint", x.endpoint));
    if (!x.finish_reason.empty())
      s.attributes.push_back(str_attr("troupe.finish_reason", x.finish_reason));
    s.attributes.push_back(int_attr("troupe.cost_micro_usd", static_cast<int64_t>(x.cost_micro_usd)));
    s.attributes.push_back(int_attr("troupe.latency_us", static_cast<int64_t>(x.latency_us)));
    if (x.first_token_us != 0)
      s.attributes.push_back(int_attr("troupe.first_token_us", static_cast<int64_t>(x.first_token_us)));
    s.attributes.push_back(int_attr("troupe.tool_calls", static_cast<int64_t>(x.tool_calls.size())));
    if (attempts_ > 0)
      s.attributes.push_back(int_attr("troupe.attempts", attempts_));
    if (!x.failure.empty()) {
      s.attributes.push_back(str_attr("error.type", x.failure));
      s.error = x.failure_detail.empty() ? x.failure : x.failure + ": " + excerpt(x.failure_detail);
    }
    for (auto& c : x.tool_calls)
      names_[c.call_id] = c.name;
    model_.reset();
  }
  void on(const event& ev, const policy_decision& x) {
    auto i = tool(x.call_id, ev.ts_us);
    auto& a = at(i).attributes;
    a.push_back(str_attr("troupe.decision", std::string{to_string(x.decision)}));
    a.push_back(str_attr("troupe.rule", x.rule));
    a.push_back(str_attr("troupe.policy_version", x.policy_version));
    if (x.decision == decision_kind::deny)
      fail_tool(x.call_id, ev.ts_us, "denied by rule " + x.rule + ": " + excerpt(x.reason));
  }
  void on(const event& ev, const approval_request& x) {
    at(tool(x.call_id, ev.ts_us)).attributes.push_back(bool_attr("troupe.approval.requested", true));
  }
  void on(const event& ev, const approval_decision& x) {
    auto i = tool(x.call_id, ev.ts_us);
    at(i).attributes.push_back(str_attr("troupe.approval.by", x.by));
    at(i).attributes.push_back(bool_attr("troupe.approval.approved", x.approved));
    if (!x.approved)
      fail_tool(x.call_id, ev.ts_us, "denied by " + x.by);
  }
  void on(const event& ev, const tool_call& x) {
    names_.emplace(x.call_id, x.name);
    tool(x.call_id, ev.ts_us);
  }
  void on(const event& ev, const retry& x) {
    at(tool(x.call_id, ev.ts_us)).attributes.push_back(int_attr("troupe.retry.attempt", x.attempt));
  }
  void on(const event& ev, const parse_failure& x) {
    names_.emplace(x.call_id, x.name);
    fail_tool(x.call_id, ev.ts_us, "parse failure: " + excerpt(x.reason));
  }
  void on(const event& ev, const tool_result& x) {
    auto i = tool(x.call_id, ev.ts_us);
    at(i).attributes.push_back(bool_attr("troupe.tool.ok", x.ok));
    if (!x.ok)
      fail_tool(x.call_id, ev.ts_us, excerpt(x.output));
    else if (!at(i).end_us)
      at(i).end_us = ev.ts_us;
  }
  void on(const event& ev, const delegation& x) {
    at(tool(x.call_id, ev.ts_us)).attributes.push_back(str_attr("troupe.child_run_id", x.child_run_id));
  }
  void on(const event& ev, const error_event& x) {
    if (x.code == error_kind::out_of_scope) {
      at(run_).attributes.push_back(bool_attr("troupe.out_of_scope", true));
      if (!x.call_id.empty())
        fail_tool(x.call_id, ev.ts_us, "out of scope: " + excerpt(x.message));
    }
  }
  void on(const event& ev, const turn_end&) {
    end(model_, ev.ts_us);
    end(turn_, ev.ts_us);
  }
  void on(const event& ev, const completion& x) {
    end(model_, ev.ts_us);
    end(turn_, ev.ts_us);
    auto& s = at(run_);
    s.end_us = ev.ts_us;
    auto& k = x.totals;
    s.attributes.push_back(str_attr("troupe.status", std::string{to_string(x.status)}));
    s.attributes.push_back(int_attr("troupe.turns", k.turns));
    s.attributes.push_back(int_attr("troupe.tool_calls", k.tool_calls));
    s.attributes.push_back(int_attr("troupe.model_calls", k.model_calls));
    s.attributes.push_back(int_attr("gen_ai.usage.input_tokens", static_cast<int64_t>(k.input_tokens)));
    s.attributes.push_back(int_attr("gen_ai.usage.output_tokens", static_cast<int64_t>(k.output_tokens)));
    s.attributes.push_back(int_attr("troupe.cost_micro_usd", static_cast<int64_t>(k.cost_micro_usd)));
    s.attributes.push_back(int_attr("troupe.denials", k.denials));
    if (x.status == run_status::failed || x.status == run_status::limit_reached)
      s.error = std::string{to_string(x.status)} + (x.reason.empty() ? "" : ": " + excerpt(x.reason));
  }
  template <class T>
  void on(const event&, const T&) {
    // Other events (checkpoints, verification, phases, ...) add no span.
  }

  std::vector<span>& out_;
  std::string run_id_;
  size_t first_;
  size_t run_ = 0;
  std::optional<size_t> turn_;
  std::optional<size_t> model_;
  uint32_t attempts_ = 0;
  std::map<std::string, size_t> tools_;
  std::map<std::string, std::string> names_;
  int64_t last_ts_ = 0;
};

std::string nanos(int64_t us) {
  return std::to_string(us) + "000";
}

} // namespace

std::string trace_id_of(const std::string& root_run_id) {
  auto hi = fnv1a(root_run_id, 0x7472616365ull);
  auto lo = fnv1a(root_run_id, 0x74726f757065ull);
  if (hi == 0 && lo == 0)
    lo = 1;
  return hex64(hi) + hex64(lo);
}

std::string span_id_of(const std::string& key) {
  auto h = fnv1a(key, 0x7370616eull);
  return hex64(h == 0 ? 1 : h);
}

json to_otlp(const std::vector<std::vector<event>>& runs) {
  std::vector<span> spans;
  std::string root;
  for (auto& events : runs) {
    if (events.empty() || !std::holds_alternative<run_start>(events.front().body))
      continue; // a run without its run_start has no run span to hang on
    if (root.empty())
      root = events.front().root_run_id.empty() ? events.front().run_id : events.front().root_run_id;
    run_spans r{spans, events.front().run_id};
    for (auto& ev : events)
      r.add(ev);
    r.finish();
  }
  std::set<std::string> keys;
  for (auto& s : spans)
    keys.insert(s.key);
  auto trace = trace_id_of(root);
  json out = json::array();
  for (auto& s : spans) {
    json j = {{"traceId", trace},
              {"spanId", span_id_of(s.key)},
              {"name", s.name},
              {"kind", span_kind_internal},
              {"startTimeUnixNano", nanos(s.start_us)},
              {"endTimeUnixNano", nanos(s.end_us.value_or(s.start_us))},
              {"attributes", s.attributes}};
    auto parent = s.parent_key;
    if (!parent.empty() && !keys.count(parent))
      parent = s.fallback_parent_key; // the delegate call is not exported
    if (!parent.empty() && keys.count(parent))
      j["parentSpanId"] = span_id_of(parent);
    if (s.error)
      j["status"] = {{"code", status_error}, {"message", *s.error}};
    out.push_back(std::move(j));
  }
  return {{"resourceSpans",
           json::array({{{"resource", {{"attributes", json::array({str_attr("service.name", "troupe")})}}},
                         {"scopeSpans",
                          json::array({{{"scope", {{"name", "troupe.journal"}, {"version", "1"}}},
                                        {"spans", std::move(out)}}})}}})}};
}

} // namespace troupe::report
