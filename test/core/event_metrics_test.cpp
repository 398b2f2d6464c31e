// The fold from journal events to metrics: each figure from a known
// sequence of events, tool names resolved from the reply, bounded labels.

#include <string>

#include <boost/test/unit_test.hpp>

#include "core/metrics/event_metrics.hpp"
#include "core/metrics/exposition.hpp"

using namespace troupe;
using namespace troupe::metrics;

namespace {

event ev(const std::string& run, event_body body) {
  event e;
  e.run_id = run;
  e.body = std::move(body);
  return e;
}

double value(const event_metrics& m, const std::string& name, const label_values& labels) {
  auto* f = m.find(name);
  BOOST_REQUIRE(f != nullptr);
  auto* s = f->find(labels);
  return s == nullptr ? -1 : (f->type() == metric_type::histogram ? double(s->count) : s->value);
}

model_reply reply_calling(std::vector<std::pair<std::string, std::string>> calls) {
  model_reply r;
  for (auto& [id, name] : calls)
    r.tool_calls.push_back({id, name, "{}"});
  return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(event_metrics_fold)

BOOST_AUTO_TEST_CASE(a_run_folds_into_its_figures) {
  event_metrics m;
  run_start rs;
  rs.tenant = "acme";
  m.apply(ev("r1", rs), "acme");
  m.apply(ev("r1", turn_start{1}), "acme");
  auto r = reply_calling({{"c1", "shell"}, {"c2", "write_file"}});
  r.endpoint = "local";
  r.tokens = {100, 20};
  r.cost_micro_usd = 1500;
  r.latency_us = 300'000;
  r.first_token_us = 40'000;
  m.apply(ev("r1", r), "acme");
  policy_decision allow;
  allow.call_id = "c1";
  allow.decision = decision_kind::allow;
  m.apply(ev("r1", allow), "acme");
  policy_decision deny;
  deny.call_id = "c2";
  deny.decision = decision_kind::deny;
  m.apply(ev("r1", deny), "acme");
  m.apply(ev("r1", turn_start{2}), "acme");
  completion done;
  done.status = run_status::completed;
  m.apply(ev("r1", done), "acme");

  BOOST_TEST(value(m, "troupe_runs_started_total", {"acme"}) == 1.0);
  BOOST_TEST(value(m, "troupe_runs_finished_total", {"acme", "completed"}) == 1.0);
  BOOST_TEST(value(m, "troupe_turns_total", {"acme"}) == 2.0);
  BOOST_TEST(value(m, "troupe_tool_calls_total", {"shell", "allow"}) == 1.0);
  BOOST_TEST(value(m, "troupe_tool_calls_total", {"write_file", "deny"}) == 1.0);
  BOOST_TEST(value(m, "troupe_denials_total", {"acme", "write_file"}) == 1.0);
  BOOST_TEST(value(m, "troupe_model_input_tokens_total", {"acme", "local"}) == 100.0);
  BOOST_TEST(value(m, "troupe_model_output_tokens_total", {"acme", "local"}) == 20.0);
  BOOST_TEST(value(m, "troupe_model_cost_usd_total", {"acme", "local"}) == 0.0015);
  BOOST_TEST(value(m, "troupe_model_latency_seconds", {"local"}) == 1.0);
  BOOST_TEST(m.find("troupe_model_latency_seconds")->find({"local"})->sum == 0.3);
  BOOST_TEST(value(m, "troupe_model_first_token_seconds", {"local"}) == 1.0);
}

BOOST_AUTO_TEST_CASE(route_attempts_count_by_endpoint_and_outcome) {
  event_metrics m;
  route_attempt a;
  a.candidates.resize(2);
  a.candidates[0].endpoint = "primary";
  a.candidates[1].endpoint = "backup";
  a.chosen = 0;
  a.outcome = "timeout";
  m.apply(ev("r", a), "t");
  a.chosen = 1;
  a.outcome = "answered";
  m.apply(ev("r", a), "t");
  a.chosen = -1;
  a.outcome = "unavailable";
  m.apply(ev("r", a), "t");
  BOOST_TEST(value(m, "troupe_model_requests_total", {"primary", "timeout"}) == 1.0);
  BOOST_TEST(value(m, "troupe_model_requests_total", {"backup", "answered"}) == 1.0);
  BOOST_TEST(value(m, "troupe_model_requests_total", {"none", "unavailable"}) == 1.0);
}

BOOST_AUTO_TEST_CASE(scripted_and_failed_replies_have_no_latency) {
  event_metrics m;
  auto scripted = reply_calling({});
  scripted.tokens = {5, 1};
  scripted.latency_us = 10;
  m.apply(ev("r", scripted), "t");
  model_reply failed;
  failed.endpoint = "e";
  failed.failure = "timeout";
  failed.latency_us = 30'000'000;
  m.apply(ev("r", failed), "t");
  BOOST_TEST(value(m, "troupe_model_input_tokens_total", {"t", "script"}) == 5.0);
  BOOST_TEST(m.find("troupe_model_latency_seconds")->all().empty());
}

BOOST_AUTO_TEST_CASE(approvals_count_by_decision_and_denials_name_the_tool) {
  event_metrics m;
  m.apply(ev("r", reply_calling({{"c1", "deploy"}, {"c2", "deploy"}, {"c3", "deploy"}})), "t");
  m.apply(ev("r", approval_decision{"c1", true, "alice", ""}), "t");
  m.apply(ev("r", approval_decision{"c2", false, "bob", "no"}), "t");
  m.apply(ev("r", approval_decision{"c3", false, "timeout", ""}), "t");
  BOOST_TEST(value(m, "troupe_approvals_decided_total", {"approved"}) == 1.0);
  BOOST_TEST(value(m, "troupe_approvals_decided_total", {"denied"}) == 1.0);
  BOOST_TEST(value(m, "troupe_approvals_decided_total", {"timeout"}) == 1.0);
  BOOST_TEST(value(m, "troupe_denials_total", {"t", "deploy"}) == 2.0);
}

BOOST_AUTO_TEST_CASE(a_decision_without_its_reply_names_tool_unknown) {
  event_metrics m; // a run resumed mid-reply: the reply came before this process
  policy_decision d;
  d.call_id = "c9";
  d.decision = decision_kind::ask;
  m.apply(ev("r", d), "");
  BOOST_TEST(value(m, "troupe_tool_calls_total", {"unknown", "ask"}) == 1.0);
}

BOOST_AUTO_TEST_CASE(a_flood_of_tool_names_stays_bounded) {
  event_metrics m{50};
  for (int i = 0; i < 10000; ++i) {
    auto id = "c" + std::to_string(i);
    m.apply(ev("r", reply_calling({{id, "evil-" + std::to_string(i)}})), "t");
    policy_decision d;
    d.call_id = id;
    d.decision = decision_kind::deny;
    m.apply(ev("r", d), "t");
  }
  BOOST_TEST(m.find("troupe_tool_calls_total")->all().size() == 51u);
  BOOST_TEST(m.find("troupe_denials_total")->all().size() == 51u);
  BOOST_TEST(value(m, "troupe_tool_calls_total", {"other", "other"}) == 9950.0);
  // No run id ever becomes a label: the rendering is bounded too.
  BOOST_TEST(render(m.families()).find("\"r\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_tenants_remember_until_completion_and_stay_bounded) {
  run_tenants t{2};
  run_start rs;
  rs.tenant = "a";
  auto start = ev("r1", rs);
  t.note(start);
  BOOST_TEST(*t.find("r1") == "a");
  t.done(ev("r1", turn_start{1}));
  BOOST_TEST(t.find("r1").has_value());
  t.done(ev("r1", completion{}));
  BOOST_TEST(!t.find("r1").has_value());
  t.remember("x", "1");
  t.remember("y", "2");
  t.remember("z", "3"); // evicts the oldest
  BOOST_TEST(t.size() == 2u);
  BOOST_TEST(!t.find("x").has_value());
  BOOST_TEST(*t.find("z") == "3");
}

BOOST_AUTO_TEST_SUITE_END()
