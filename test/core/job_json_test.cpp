// The job as the API shows it, and the bodies of POST /v1/runs and POST
// /v1/approvals/{run}/{call}: every field's limits, each bad field refused
// with an error naming it, unknown and repeated fields, bodies that are not
// JSON (with line and column), and bodies that are not objects.

#include <string>

#include <boost/test/unit_test.hpp>

#include "core/jobs/job_json.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"
#include "test/core/jobs_print.hpp"

using namespace troupe;
using namespace troupe::jobs;
using nlohmann::json;

namespace {

// The submission `{"scenario": "demo", "task": "t"}` with `extra` merged in.
std::string body_with(const json& extra) {
  json j{{"scenario", "demo"}, {"task", "t"}};
  j.update(extra);
  return j.dump();
}

// Asserts `body` is refused as invalid_arguments with `fragment` in the message.
void refused(const std::string& body, const std::string& fragment) {
  auto s = parse_submission(body);
  BOOST_REQUIRE_MESSAGE(!s, "accepted: " << body);
  BOOST_TEST((s.error() == runtime_errc::invalid_arguments));
  BOOST_TEST(render(s.error()).find(fragment) != std::string::npos,
             "'" << render(s.error()) << "' should name '" << fragment << "'");
}

// Asserts `body` is accepted.
void accepted(const std::string& body) {
  auto s = parse_submission(body);
  BOOST_TEST(static_cast<bool>(s), render(s));
}

} // namespace

BOOST_AUTO_TEST_SUITE(job_json)

BOOST_AUTO_TEST_CASE(a_job_shows_its_fields_and_instants_twice) {
  job j;
  j.job_id = "job-1f";
  j.run_id = "run-9";
  j.tenant = "acme";
  j.key_id = "k_secret_ish";
  j.idempotency_key = "idem";
  j.starts = 3;
  j.scenario = "review";
  j.task = "look";
  j.priority = job_priority::high;
  j.labels = {"team=a", "pr:12"};
  j.status = job_status::running;
  j.submitted_us = 1'709'214'310'500'000;
  j.started_us = 1'709'214'311'000'001;
  j.deadline_us = 1'709'300'000'000'000;
  j.attempts = 2;
  j.sla_breached = true;
  auto v = to_json(j);
  BOOST_TEST(v["job_id"] == "job-1f");
  BOOST_TEST(v["run_id"] == "run-9");
  BOOST_TEST(v["status"] == "running");
  BOOST_TEST(v["scenario"] == "review");
  BOOST_TEST(v["task"] == "look");
  BOOST_TEST(v["priority"] == "high");
  BOOST_TEST(v["labels"] == json::array({"team=a", "pr:12"}));
  BOOST_TEST(v["tenant"] == "acme");
  BOOST_TEST(v["submitted"] == "2024-02-29T13:45:10.500000Z");
  BOOST_TEST(v["submitted_us"] == j.submitted_us);
  BOOST_TEST(v["started"] == "2024-02-29T13:45:11.000001Z");
  BOOST_TEST(v["ended"].is_null());
  BOOST_TEST(v["ended_us"] == 0);
  BOOST_TEST(v["deadline"] == "2024-03-01T13:33:20.000000Z");
  BOOST_TEST(v["not_before"].is_null());
  BOOST_TEST(v["attempts"] == 2);
  BOOST_TEST(v["sla_breached"] == true);
  BOOST_TEST(v["error"] == "");
  BOOST_TEST(!v.contains("starts"));
  BOOST_TEST(!v.contains("key_id"));
  BOOST_TEST(!v.contains("idempotency_key"));
  j.error = "provider_failed: connection refused";
  BOOST_TEST(to_json(j)["error"] == "provider_failed: connection refused");
}

BOOST_AUTO_TEST_CASE(a_full_submission_and_the_defaults) {
  auto s = parse_submission(R"({"scenario": "code-review_v2.1", "task": "Review PR 12",
    "priority": "low", "deadline_ms": 60000, "labels": ["team=a", "pr:12", "x.y-z_1"]})");
  BOOST_REQUIRE_MESSAGE(s, render(s));
  BOOST_TEST(s->scenario == "code-review_v2.1");
  BOOST_TEST(s->task == "Review PR 12");
  BOOST_TEST(s->priority == job_priority::low);
  BOOST_TEST(s->deadline_ms == 60000u);
  BOOST_TEST(s->labels == (std::vector<std::string>{"team=a", "pr:12", "x.y-z_1"}),
             boost::test_tools::per_element());
  auto d = parse_submission(R"({"task": "t", "scenario": "demo"})");
  BOOST_REQUIRE_MESSAGE(d, render(d));
  BOOST_TEST(d->priority == job_priority::normal);
  BOOST_TEST(d->deadline_ms == 0u);
  BOOST_TEST(d->labels.empty());
  // null means absent for the optional fields.
  auto n = parse_submission(body_with({{"priority", nullptr}, {"deadline_ms", nullptr},
                                       {"labels", nullptr}}));
  BOOST_REQUIRE_MESSAGE(n, render(n));
  BOOST_TEST(n->priority == job_priority::normal);
}

BOOST_AUTO_TEST_CASE(scenario_and_task_are_required_and_bounded) {
  refused(R"({"task": "t"})", "scenario: required");
  refused(R"({"scenario": "demo"})", "task: required");
  refused(R"({"scenario": null, "task": "t"})", "scenario: required");
  refused(body_with({{"scenario", 7}}), "scenario: expected a string, got a number");
  refused(body_with({{"scenario", ""}}), "scenario:");
  refused(body_with({{"scenario", "../etc"}}), "scenario:");
  refused(body_with({{"scenario", "a b"}}), "scenario:");
  refused(body_with({{"scenario", "caf\u00e9"}}), "scenario:");
  refused(body_with({{"scenario", std::string(101, 'a')}}), "scenario:");
  accepted(body_with({{"scenario", std::string(100, 'a')}}));
  refused(body_with({{"task", ""}}), "task: must not be empty");
  refused(body_with({{"task", json::array()}}), "task: expected a string, got an array");
  refused(body_with({{"task", std::string(64 * 1024 + 1, 'x')}}), "task: 65537 bytes");
  accepted(body_with({{"task", std::string(64 * 1024, 'x')}}));
  refused(body_with({{"task", std::string("a\0b", 3)}}),
          "task: contains a NUL character at byte 1");
  // Any other text is the task's business: newlines, quotes, UTF-8.
  auto t = parse_submission(body_with({{"task", "line 1\nline \"2\" caf\u00e9"}}));
  BOOST_REQUIRE_MESSAGE(t, render(t));
  BOOST_TEST(t->task == "line 1\nline \"2\" caf\u00e9");
}

BOOST_AUTO_TEST_CASE(priority_and_deadline_are_checked) {
  refused(body_with({{"priority", "urgent"}}), "priority: expected one of");
  refused(body_with({{"priority", "HIGH"}}), "priority:");
  refused(body_with({{"priority", ""}}), "priority:");
  refused(body_with({{"priority", 1}}), "priority: expected a string");
  refused(body_with({{"deadline_ms", 0}}), "deadline_ms: 0 is out of range");
  refused(body_with({{"deadline_ms", -5}}), "deadline_ms: -5 is out of range");
  refused(body_with({{"deadline_ms", 604'800'001}}), "deadline_ms: 604800001 is out of range");
  refused(body_with({{"deadline_ms", 1.5}}), "deadline_ms: expected an integer");
  refused(body_with({{"deadline_ms", "60000"}}), "deadline_ms: expected an integer");
  refused(R"({"scenario": "demo", "task": "t", "deadline_ms": 1e400})", "number overflow");
  refused(R"({"scenario": "demo", "task": "t", "deadline_ms": 99999999999999999999999})",
          "deadline_ms: expected an integer");
  auto week = parse_submission(body_with({{"deadline_ms", 604'800'000}}));
  BOOST_REQUIRE_MESSAGE(week, render(week));
  BOOST_TEST(week->deadline_ms == 604'800'000u);
  accepted(body_with({{"deadline_ms", 1}}));
}

BOOST_AUTO_TEST_CASE(labels_are_checked_one_by_one) {
  refused(body_with({{"labels", "a"}}), "labels: expected an array of strings, got a string");
  refused(body_with({{"labels", {"ok", 3}}}), "labels[1]: expected a string, got a number");
  refused(body_with({{"labels", {"ok", ""}}}), "labels[1]:");
  refused(body_with({{"labels", {"has space"}}}), "labels[0]: \"has space\" is not a label");
  refused(body_with({{"labels", {"a/b"}}}), "labels[0]:");
  refused(body_with({{"labels", {std::string(65, 'l')}}}), "labels[0]:");
  refused(body_with({{"labels", {"x", "y", "x"}}}), "labels[2]: \"x\" appears twice");
  json many = json::array();
  for (int i = 0; i < 17; ++i)
    many.push_back("l" + std::to_string(i));
  refused(body_with({{"labels", many}}), "labels: 17 labels, more than the 16 allowed");
  many.erase(many.begin());
  accepted(body_with({{"labels", many}}));
  accepted(body_with({{"labels", {std::string(64, 'l')}}}));
  BOOST_TEST(valid_label("env=prod:eu-1.a_b"));
  BOOST_TEST(!valid_label("x\n"));
}

BOOST_AUTO_TEST_CASE(unknown_and_repeated_fields_are_refused) {
  refused(body_with({{"priorty", "high"}}), "unknown field \"priorty\"");
  refused(body_with({{"tenant", "other"}}), "unknown field \"tenant\"");
  refused(R"({"scenario": "demo", "task": "t", "task": "other"})",
          "body: the key \"task\" appears twice");
  refused(R"({"scenario": "demo", "task": "t", "labels": [], "labels": ["x"]})",
          "\"labels\" appears twice");
}

BOOST_AUTO_TEST_CASE(bodies_that_are_not_json_objects) {
  refused("", "body is not JSON");
  refused(R"([{"scenario": "demo", "task": "t"}])", "body: expected a JSON object, got an array");
  refused("\"demo\"", "body: expected a JSON object, got a string");
  refused("null", "body: expected a JSON object, got null");
  refused("{\"scenario\": \"demo\",\n  \"task\": \"t\",\n}", "at line 3, column 1");
  refused("{\"scenario\": \"demo\", \"task\": \"t\"} trailing", "body is not JSON");
  refused("{\"scenario\": \"demo\", \"task\": \"\xff\"}", "body is not JSON");
  refused(std::string(10'000, '[') + std::string(10'000, ']'), "nested deeper than");
  refused(R"({"scenario": "demo", "task": "t", "labels": [[[[[[[["x"]]]]]]]]})",
          "nested deeper than");
}

BOOST_AUTO_TEST_CASE(approval_decisions) {
  auto a = parse_decision(R"({"decision": "approve"})");
  BOOST_REQUIRE_MESSAGE(a, render(a));
  BOOST_TEST(a->approve);
  BOOST_TEST(a->reason.empty());
  auto d = parse_decision(R"({"decision": "deny", "reason": "writes to prod"})");
  BOOST_REQUIRE_MESSAGE(d, render(d));
  BOOST_TEST(!d->approve);
  BOOST_TEST(d->reason == "writes to prod");
  auto long_reason =
    parse_decision(json{{"decision", "deny"}, {"reason", std::string(4096, 'r')}}.dump());
  BOOST_TEST(static_cast<bool>(long_reason), render(long_reason));
  auto check = [](const std::string& body, const std::string& fragment) {
    auto r = parse_decision(body);
    BOOST_REQUIRE_MESSAGE(!r, "accepted: " << body);
    BOOST_TEST((r.error() == runtime_errc::invalid_arguments));
    BOOST_TEST(render(r.error()).find(fragment) != std::string::npos, render(r.error()));
  };
  check(R"({})", "decision: required");
  check(R"({"decision": "yes"})", "decision: expected \"approve\" or \"deny\", got \"yes\"");
  check(R"({"decision": true})", "decision: expected a string, got a boolean");
  check(R"({"decision": "approve", "reason": 5})", "reason: expected a string");
  check(json{{"decision", "deny"}, {"reason", std::string(4097, 'r')}}.dump(),
        "reason: 4097 bytes");
  check(R"({"decision": "approve", "by": "me"})", "unknown field \"by\"");
  check(R"({"decision": "approve", "decision": "deny"})", "appears twice");
  check("{\"decision\": ", "body is not JSON");
}

BOOST_AUTO_TEST_SUITE_END()
